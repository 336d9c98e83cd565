"""A user's catalog file: own models and prices, named OpenAI-compatible endpoints; refusals before any paid call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, ModelProfile, Orchestrator
from orchestratex.exceptions import ConfigurationError, ProviderNotConfigured, UnknownPriceError

from .helpers import catalog as function_catalog

LOCAL = """
include_default = false

[providers.ollama]
kind = "openai"
base_url = "http://localhost:11434/v1"

[providers.router]
kind = "openai"
base_url = "https://openrouter.ai/api/v1"
api_key_env = "MY_ROUTER_KEY"

[[models]]
name = "ollama:llama3.2"
input_cost_per_1k = 0
output_cost_per_1k = 0
quality = 6

[[models]]
name = "router:meta-llama/llama-3.3-70b-instruct"
input_cost_per_1k = 0.00013
output_cost_per_1k = 0.0004

[[models]]
name = "openai:gpt-4o"          # a vendor model: priced by the price source

[aliases]
llama = "ollama:llama3.2"
"""


def write(tmp_path: Path, text: str, name: str = "models.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_catalog_file_serves_several_openai_compatible_endpoints_by_name(tmp_path: Path) -> None:
    path = write(tmp_path, LOCAL)
    orch = Orchestrator(catalog=path, env={"MY_ROUTER_KEY": "sk-or-test", "OPENAI_API_KEY": "sk-test"})
    assert not orch.simulated
    assert sorted(orch.providers) == ["ollama", "openai", "router"]
    assert orch.providers["ollama"].base_url.startswith("http://localhost:11434/v1")  # type: ignore[attr-defined]
    assert orch.providers["router"].base_url.startswith("https://openrouter.ai/api/v1")  # type: ignore[attr-defined]
    assert orch.catalog.get("llama").name == "ollama:llama3.2"
    gpt4o = orch.catalog.get("openai:gpt-4o")
    assert (gpt4o.input_cost_per_1k, gpt4o.output_cost_per_1k) == (0.0025, 0.01)
    assert [m.name for m in orch.usable_models(None)] == [
        "ollama:llama3.2",
        "router:meta-llama/llama-3.3-70b-instruct",
        "openai:gpt-4o",
    ]
    without_openai = Orchestrator(catalog=path, env={"MY_ROUTER_KEY": "sk-or-test"})
    assert sorted(without_openai.providers) == ["ollama", "router"]


def test_the_catalog_variable_is_read_when_no_catalog_is_given(tmp_path: Path) -> None:
    path = write(tmp_path, LOCAL)
    orch = Orchestrator(env={"ORCHESTRATEX_CATALOG": str(path), "MY_ROUTER_KEY": "k"})
    assert "ollama:llama3.2" in orch.catalog and "openai:gpt-6.2-sol" not in orch.catalog


def test_a_named_key_variable_must_be_set(tmp_path: Path) -> None:
    with pytest.raises(ProviderNotConfigured, match="set MY_ROUTER_KEY"):
        Orchestrator(catalog=write(tmp_path, LOCAL), env={})


def test_a_model_nobody_prices_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = write(tmp_path, '[[models]]\nname = "ollama:mystery"\n')
    with pytest.raises(UnknownPriceError, match=r"'ollama:mystery'.*set input_cost_per_1k and output_cost_per_1k"):
        Orchestrator(catalog=path, env={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[providers.x]\nbase_url = 'http://h'\n", "providers.x: set kind"),
        ("[providers.x]\nkind = 'openai'\nbase_uri = 'http://h'\n", "unknown key 'base_uri'"),
        ("models = 3\n", "'models' must be a list"),
        ("modles = []\n", "unknown key 'modles'"),
        ("include_default = 'yes'\n", "include_default must be true or false"),
        ("[[models]\n", "is not valid TOML"),
    ],
)
def test_bad_catalog_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Orchestrator(catalog=write(tmp_path, text), env={})


def test_a_missing_catalog_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read catalog file"):
        Orchestrator(catalog=tmp_path / "nope.toml", env={})


def test_json_catalog_files_work_too(tmp_path: Path) -> None:
    data = {"include_default": False, "models": [{"name": "sim:tiny", "cost_per_1k_tokens": 0}]}
    path = write(tmp_path, json.dumps(data), "models.json")
    assert [m.name for m in Orchestrator(catalog=path, simulate=True).catalog] == ["sim:tiny"]


def test_openai_base_url_alone_configures_the_openai_adapter() -> None:
    orch = Orchestrator(env={"OPENAI_BASE_URL": "http://localhost:11434/v1"})
    assert not orch.simulated and list(orch.providers) == ["openai"]
    assert orch.providers["openai"].base_url.startswith("http://localhost:11434/v1")  # type: ignore[attr-defined]


def calls_counted() -> tuple[FunctionProvider, list[GenerationRequest]]:
    calls: list[GenerationRequest] = []

    def fn(request: GenerationRequest) -> str:
        calls.append(request)
        return '{"score": 9, "feedback": "ok"}' if request.purpose == "judge" else "an answer"

    return FunctionProvider(fn), calls


async def test_one_model_fails_before_any_call_saying_how_to_add_a_judge() -> None:
    provider, calls = calls_counted()
    orch = Orchestrator(providers=[provider], catalog=function_catalog("solo"))
    with pytest.raises(ConfigurationError, match=r"no model can judge the answers of function:solo.*Add a judge"):
        await orch.run("Hello")
    assert calls == []


async def test_the_check_before_a_run_sees_every_change_on_the_same_orchestrator() -> None:
    """The check a run passes is remembered, but not across a change of the catalog, the evaluator's pinned judges
    or the models preferred: each later run of the same orchestrator is checked against what it is now."""
    from orchestratex import LLMJudgeEvaluator

    provider, calls = calls_counted()
    evaluator = LLMJudgeEvaluator()
    cat = function_catalog("a", "b")
    orch = Orchestrator(providers=[provider], catalog=cat, evaluator=evaluator)
    assert (await orch.run("Hello")).status == "completed"
    cat.set_status("function:b", "disabled")  # the only other model: nobody left to judge a's answers
    with pytest.raises(ConfigurationError, match="no model can judge the answers of function:a"):
        await orch.run("Hello")
    cat.set_status("function:b", "active")
    assert (await orch.run("Hello")).status == "completed"
    evaluator.pinned = ["function:zzz"]  # pinned in place, after the orchestrator was made
    with pytest.raises(ConfigurationError, match="Add a judge"):
        await orch.run("Hello")
    evaluator.pinned = None
    cat.add(ModelProfile(name="function:free-lunch"))
    assert (await orch.run("Hello")).status == "completed"  # an unpriced model is left out when others are priced
    with pytest.raises(UnknownPriceError, match="'function:free-lunch'"):
        await orch.run("Hello", preferred_models=["function:free-lunch"])
    assert len(calls) == 6  # three runs, each an answer and a verdict; the refused ones made no call


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("no provider", r"^no provider is configured: set a provider's API key"),
        ("unserved", r"^no model of the catalog can answer \(provider 'other' not configured: other:a, other:b\)"),
        ("all disabled", r"^no model of the catalog can answer \(disabled: function:a, function:b\)"),
        ("preferred disabled", r"^none of the preferred models can answer \(disabled: function:a\)"),
    ],
)
async def test_a_setup_where_no_model_can_answer_fails_before_any_call_saying_why(setup: str, expected: str) -> None:
    provider, calls = calls_counted()
    cat = function_catalog("a", "b")
    preferred = None
    if setup == "unserved":
        cat = ModelCatalog([ModelProfile(name=f"other:{n}", cost_per_1k_tokens=0.001) for n in "ab"])
    elif setup == "all disabled":
        for name in ("function:a", "function:b"):
            cat.set_status(name, "disabled")
    elif setup == "preferred disabled":
        cat.set_status("function:a", "disabled")
        preferred = ["function:a"]
    orch = Orchestrator(providers=[] if setup == "no provider" else [provider], catalog=cat)
    with pytest.raises(ConfigurationError, match=expected):
        await orch.run("Hello", preferred_models=preferred)
    assert calls == []


async def test_pinned_judges_that_are_not_served_are_refused_too() -> None:
    from orchestratex import LLMJudgeEvaluator

    provider, calls = calls_counted()
    orch = Orchestrator(
        providers=[provider], catalog=function_catalog("a", "b"), evaluator=LLMJudgeEvaluator(judges=["function:zzz"])
    )
    with pytest.raises(ConfigurationError, match="Add a judge"):
        await orch.run("Hello")
    assert calls == []


async def test_an_unpriced_model_is_an_unknown_price_error_naming_it() -> None:
    provider, calls = calls_counted()
    cat = function_catalog("a", "b")
    cat.add(ModelProfile(name="function:free-lunch"))
    orch = Orchestrator(providers=[provider], catalog=cat)
    with pytest.raises(UnknownPriceError, match=r"'function:free-lunch' has no price.*input_cost_per_1k"):
        await orch.run("Hello", preferred_models=["function:free-lunch"])
    only_unpriced = Orchestrator(providers=[provider], catalog=ModelCatalog([ModelProfile(name="function:x")]))
    with pytest.raises(UnknownPriceError, match="'function:x'"):
        await only_unpriced.run("Hello")
    assert calls == []
    # priced models alongside an unpriced one still run; the unpriced one is never routed to
    result = await orch.run("Hello")
    assert result.status == "completed" and result.final_model != "function:free-lunch"
