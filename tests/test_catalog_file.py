"""A user's catalog file: own models and prices, named OpenAI-compatible endpoints; refusals before any paid call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
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


def test_a_catalog_files_endpoints_go_along_with_its_with_only_catalog(tmp_path: Path) -> None:
    # `Orchestrator(catalog=ModelCatalog.from_file(path).with_only(["ollama"]))` (one endpoint of the file) lost the
    # file's endpoints: no provider served its models, and the orchestrator ran the simulator instead, without a word
    # beyond the simulated answers
    catalog = ModelCatalog.from_file(write(tmp_path, LOCAL))
    orch = Orchestrator(catalog=catalog.with_only(["ollama"]), env={"MY_ROUTER_KEY": "sk-or-test"})
    assert not orch.simulated and sorted(orch.providers) == ["ollama"]
    assert orch.providers["ollama"].base_url.startswith("http://localhost:11434/v1")  # type: ignore[attr-defined]
    assert [m.name for m in orch.usable_models(None)] == ["ollama:llama3.2"]
    both = Orchestrator(catalog=catalog.with_only(["ollama", "router"]), env={"MY_ROUTER_KEY": "sk-or-test"})
    assert sorted(both.providers) == ["ollama", "router"]
    again = Orchestrator(catalog=orch.catalog, env={})  # (an orchestrator's own catalog, given to another)
    assert sorted(again.providers) == ["ollama"] and not again.simulated


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


def test_an_alias_two_models_of_one_file_claim_is_refused(tmp_path: Path) -> None:
    # Before: the last model (or the [aliases] table) silently had it, so `fast` ran another model than the one whose
    # entry says `aliases = ["fast"]`.
    entry = '[[models]]\nname = "loc:{}"\ncost_per_1k_tokens = 0\naliases = ["fast"]\n'
    with pytest.raises(
        ConfigurationError,
        match=r"models.toml: models\[1\] aliases: 'fast' is already an alias of models\[0\] \('loc:a'\): an alias",
    ):
        Orchestrator(catalog=write(tmp_path, entry.format("a") + entry.format("b")), env={})
    both = entry.format("a") + '[[models]]\nname = "loc:b"\ncost_per_1k_tokens = 0\n'
    with pytest.raises(
        ConfigurationError, match=r"aliases.fast: 'fast' is already an alias of models\[0\] \('loc:a'\)"
    ):
        ModelCatalog.from_mapping({"models": [], "aliases": {}}).merge_file(
            write(tmp_path, both + '[aliases]\nfast = "loc:b"\n')
        )
    same = ModelCatalog.default().merge_file(write(tmp_path, both + '[aliases]\nfast = "loc:a"\n'))  # (agrees)
    assert same.get("fast").name == "loc:a"


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
    with pytest.raises(ConfigurationError, match="names 'function:zzz', which is not a model of the catalog"):
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
    with pytest.raises(ConfigurationError, match="names 'function:zzz', which is not a model of the catalog"):
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


FREE_A = '[[models]]\nname = "sim:a"\ncost_per_1k_tokens = 0\n'


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('judge_only = "yes"', "models[0] judge_only: must be true or false, not 'yes'"),
        (
            'specialties = ["cooking"]',
            "models[0] specialties: unknown domain 'cooking': specialties are among coding, math, science, writing,"
            " analysis, general",
        ),
        (
            'aliases = ["openai:gpt-4.1"]',
            "models[0] aliases: 'openai:gpt-4.1' is already a model's name: pick another alias",
        ),
    ],
)
def test_orchestratex_models_refuses_a_loose_model_entry_naming_the_file_the_entry_and_the_key(
    tmp_path: Path, entry: str, message: str
) -> None:
    path = write(tmp_path, f"{FREE_A}{entry}\n")
    env = {**os.environ, "ORCHESTRATEX_CATALOG": str(path)}
    proc = subprocess.run([sys.executable, "-m", "orchestratex.cli", "models"], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"orchestratex: error: {path}: {message} (the catalog named by ORCHESTRATEX_CATALOG)"


def test_a_model_may_list_its_own_name_and_new_names_as_aliases(tmp_path: Path) -> None:
    path = write(tmp_path, f'{FREE_A}aliases = ["sim:a", "fast"]\njudge_only = true\nspecialties = ["math"]\n')
    model = ModelCatalog.from_file(path).get("fast")
    assert (model.name, model.judge_only, model.specialties) == ("sim:a", True, ("math",))


# -- one reader, one set of rules: Orchestrator(catalog=path), from_file, merge_file and watch ---------------------
def _loaders() -> dict[str, Callable[[Path], ModelCatalog]]:
    return {
        "Orchestrator(catalog=path)": lambda p: Orchestrator(catalog=p, env={"MY_ROUTER_KEY": "k"}).catalog,
        "from_file": ModelCatalog.from_file,
        "from_file(watch=True)": lambda p: ModelCatalog.from_file(p, watch=True),
        "merge_file": lambda p: ModelCatalog.default().merge_file(p),
        "watch": lambda p: ModelCatalog.default().watch(p),
    }


@pytest.mark.parametrize("how", list(_loaders()))
def test_every_loader_prices_a_vendor_model_from_the_source(tmp_path: Path, how: str) -> None:
    path = write(tmp_path, '[[models]]\nname = "openai:gpt-4o"\nquality = 9.0\n')
    model = _loaders()[how](path).get("openai:gpt-4o")
    assert (model.input_cost_per_1k, model.output_cost_per_1k, model.quality) == (0.0025, 0.01, 9.0)


@pytest.mark.parametrize("how", list(_loaders()))
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("include_defualt = false\n", "unknown key 'include_defualt'"),
        ('[[modles]]\nname = "sim:a"\n', "unknown key 'modles'"),
        ('[[models]]\nname = "sim:a"\ncost_per_1k_tokens = "0.001"\n', "models[0] cost_per_1k_tokens: Input should be"),
        ('[[models]]\nname = "sim:a"\ncost_per_1k_tokens = 0\n[[models]]\nname = "sim:a"\n', "'sim:a' is already"),
        ('[aliases]\nfast = "loc:nothere"\n', "aliases.fast: unknown model 'loc:nothere'"),
        ("[aliases]\nfast = 3\n", "aliases.fast: must be a model's name (a string), not 3"),
        ('[aliases]\n"openai:gpt-4o" = "gpt4"\n', "aliases.openai:gpt-4o: 'openai:gpt-4o' is already a model's name"),
        ("[providers.x]\nkind = 'openai'\napi = 'grpc'\n", "providers.x: api must be 'auto', 'chat' or 'responses'"),
        ("[providers.x]\nkind = 'sim'\n", "providers.x: kind 'sim' cannot serve a named endpoint"),
        (f'{FREE_A}judge_only = "yes"\n', "models[0] judge_only: must be true or false, not 'yes'"),
        (
            f'{FREE_A}specialties = ["coding", "cooking"]\n',
            "models[0] specialties: unknown domain 'cooking': specialties",
        ),
        (f'{FREE_A}aliases = ["openai:gpt-4o"]\n', "models[0] aliases: 'openai:gpt-4o' is already a model's name"),
        (
            f'{FREE_A}[[models]]\nname = "sim:b"\ncost_per_1k_tokens = 0\naliases = ["sim:a"]\n',
            "models[1] aliases: 'sim:a'",
        ),
    ],
)
def test_every_loader_refuses_a_bad_file_naming_the_file_and_the_key(
    tmp_path: Path, how: str, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as refused:
        _loaders()[how](path)
    assert refused.value.message.startswith(f"{path}: ") and message in refused.value.message


def test_from_file_reads_include_default_and_the_endpoints_as_the_orchestrator_does(tmp_path: Path) -> None:
    path = write(tmp_path, LOCAL)
    catalog = ModelCatalog.from_file(path)
    env = {"MY_ROUTER_KEY": "k", "OPENAI_API_KEY": "sk-test"}
    assert [m.name for m in catalog] == [m.name for m in Orchestrator(catalog=path, env=env).catalog]
    orch = Orchestrator(catalog=catalog, env=env)  # its endpoints serve its models
    assert sorted(orch.providers) == ["ollama", "openai", "router"]
    with pytest.raises(ProviderNotConfigured, match=f"'router' of {path} needs an API key: set MY_ROUTER_KEY"):
        Orchestrator(catalog=catalog, env={})
    assert "openai:gpt-6.2-sol" in ModelCatalog.from_file(write(tmp_path, LOCAL.replace("= false", "= true")))


def test_merge_file_and_watch_refuse_include_default_false(tmp_path: Path) -> None:
    path = write(tmp_path, 'include_default = false\n[[models]]\nname = "sim:a"\ncost_per_1k_tokens = 0\n')
    for layer in (ModelCatalog.default().merge_file, ModelCatalog.default().watch):
        with pytest.raises(ConfigurationError, match=r"include_default = false: .* ModelCatalog.from_file\(path\)"):
            layer(path)


def test_a_file_that_breaks_a_rule_changes_nothing(tmp_path: Path) -> None:
    catalog = ModelCatalog.default()
    path = write(tmp_path, '[[models]]\nname = "house:a"\ncost_per_1k_tokens = 0\n[aliases]\nfast = "nowhere:x"\n')
    with pytest.raises(ConfigurationError):
        catalog.merge_file(path)
    assert "house:a" not in catalog and "fast" not in catalog.aliases


@pytest.mark.parametrize("kind", ["anthropic", "gemini", "sim"])
def test_a_kind_that_cannot_serve_a_named_endpoint_is_refused_up_front(tmp_path: Path, kind: str) -> None:
    text = f'include_default = false\n[providers.mine]\nkind = "{kind}"\nbase_url = "http://127.0.0.1:1"\n'
    path = write(tmp_path, text + '[[models]]\nname = "mine:m1"\ncost_per_1k_tokens = 0\n')
    with pytest.raises(
        ConfigurationError, match=rf"{path}: providers.mine: kind '{kind}' cannot serve a named endpoint"
    ):
        Orchestrator(catalog=path, env={"MY_KEY": "k"})


def test_endpoint_errors_at_build_name_the_file_the_key_and_what_to_set(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.mine]\nkind = "openai"\n[[models]]\nname = "mine:m1"\ncost_per_1k_tokens = 0\n')
    with pytest.raises(ProviderNotConfigured) as refused:
        Orchestrator(catalog=path, env={})
    assert refused.value.message.startswith(f"{path}: providers.mine: ")
    assert 'set api_key_env = "VARIABLE"' in refused.value.message and "None" not in refused.value.message
    path = write(tmp_path, '[providers.mine]\nkind = "nope"\n[[models]]\nname = "mine:m1"\ncost_per_1k_tokens = 0\n')
    with pytest.raises(ProviderNotConfigured, match=rf"{path}: providers.mine: kind: no provider 'nope' is installed"):
        Orchestrator(catalog=path, env={})


async def test_several_unpriced_models_are_named_in_the_plural() -> None:
    # "model 'function:x', 'function:y' has no price, so its cost cannot be counted" read as one model named oddly
    provider, calls = calls_counted()
    orch = Orchestrator(
        providers=[provider], catalog=ModelCatalog([ModelProfile(name="function:x"), ModelProfile(name="function:y")])
    )
    with pytest.raises(UnknownPriceError, match=r"^models 'function:x', 'function:y' have no price, so their cost "):
        await orch.run("Hello")
    assert calls == []


async def test_one_model_of_providers_given_is_told_how_to_add_a_judge_to_the_catalog_given() -> None:
    # with `providers=[FunctionProvider(fn)]` and a catalog of one model (the usual test set-up), the run was refused
    # saying to "set ANTHROPIC_API_KEY or GEMINI_API_KEY" (no key is read when providers are given) or "add a second
    # model to your catalog file" (there is none); it now says what to add, and doing so works
    from orchestratex import ModelProfile

    provider, calls = calls_counted()
    catalog = function_catalog("solo")
    orch = Orchestrator(providers=[provider], catalog=catalog)
    with pytest.raises(ConfigurationError) as refused:
        await orch.run("Hello")
    message = refused.value.message
    assert message.startswith("no model can judge the answers of function:solo: a judge must be another model. Add a")
    assert "catalog.add(ModelProfile(name='function:judge', cost_per_1k_tokens=0, judge_only=True))" in message
    assert "ANTHROPIC_API_KEY" not in message and "catalog file" not in message
    assert calls == []
    catalog.add(ModelProfile(name="function:judge", cost_per_1k_tokens=0, judge_only=True))  # as it says
    result = await orch.run("Hello", max_iterations=1)
    assert result.status == "completed" and result.final_model == "function:solo", result.error
    await orch.aclose()
