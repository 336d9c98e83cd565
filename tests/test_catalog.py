"""ModelCatalog and ModelProfile: the default catalog, lookups, files, exact costs."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, cast

import pytest

from orchestratex import ModelCatalog, ModelProfile, Orchestrator, Usage
from orchestratex.exceptions import ConfigurationError, UnknownModelError, UnknownPriceError, UserError


def test_default_catalog_has_current_models_of_three_providers_and_spec_aliases() -> None:
    catalog = ModelCatalog.default()
    assert set(catalog.providers()) == {"openai", "anthropic", "gemini"}
    assert catalog.get("gpt4").name == "openai:gpt-4.1"
    assert catalog.get("claude").provider == "anthropic"
    for model in catalog:
        assert (model.priced and model.context_window > model.max_output_tokens) or model.provider == "openai"
        assert model.input_cost_per_1k is not None and model.output_cost_per_1k is not None
        assert model.cost_per_1k_tokens == pytest.approx((model.input_cost_per_1k + model.output_cost_per_1k) / 2)


def test_lookup_by_full_name_alias_and_bare_id() -> None:
    catalog = ModelCatalog.default()
    assert catalog.get("openai:gpt-4.1") is catalog.get("gpt4") is catalog.get("gpt-4.1")
    assert "gpt4" in catalog and "gpt-17" not in catalog
    with pytest.raises(UnknownModelError, match="unknown model 'gpt-17'; known models: anthropic:"):
        catalog.get("gpt-17")


def test_cost_is_exact_with_cached_tokens() -> None:
    model = ModelProfile(name="x:y", input_cost_per_1k=0.003, output_cost_per_1k=0.015, cached_input_cost_per_1k=0.0003)
    usage = Usage(input_tokens=1000, cached_input_tokens=200, output_tokens=500)
    assert model.cost(usage) == 0.00996
    assert model.worst_case_cost(1000, 500) == 0.0105
    assert sum(ModelProfile(name="a:b", cost_per_1k_tokens=0.1).cost(Usage(output_tokens=1)) for _ in range(3)) > 0


def test_unpriced_model_is_an_error_not_free() -> None:
    model = ModelProfile(name="local:llama")
    assert not model.priced
    with pytest.raises(UnknownPriceError, match="has no price"):
        model.cost(Usage(input_tokens=10))
    free = ModelProfile(name="local:llama", cost_per_1k_tokens=0)
    assert free.cost(Usage(input_tokens=10, output_tokens=10)) == 0


def test_name_must_say_the_provider() -> None:
    with pytest.raises(ValueError, match="provider:model"):
        ModelProfile(name="just-a-name", cost_per_1k_tokens=1)


def test_merge_toml_overrides_and_adds(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        '[aliases]\nfast = "openai:gpt-4.1-mini"\n\n'
        '[[models]]\nname = "openai:gpt-4.1"\ninput_cost_per_1k = 0.0018\noutput_cost_per_1k = 0.0072\n\n'
        '[[models]]\nname = "ollama:llama3.2"\nprovider = "openai"\nversion = "llama3.2"\ncost_per_1k_tokens = 0\n'
    )
    catalog = ModelCatalog.default().merge_file(path)
    assert catalog.get("gpt4").input_cost_per_1k == 0.0018
    assert catalog.get("fast").name == "openai:gpt-4.1-mini"
    assert catalog.get("ollama:llama3.2").provider == "openai"


def test_merge_json(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"models": [{"name": "acme:m1", "cost_per_1k_tokens": 0.001}]}))
    assert ModelCatalog.from_file(path).get("m1").name == "acme:m1"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[[models]]\nname = "a:b"\ninput_cost_per_1k = -1\n', "models[0] input_cost_per_1k"),
        ("[[models]\n", "is not valid TOML"),
        ('models = "nope"\n', "'models' must be a list"),
        ('[aliases]\nx = "no:such"\n', "unknown model 'no:such'"),
    ],
)
def test_bad_catalog_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(content)
    with pytest.raises((ConfigurationError, UnknownModelError), match=re.escape(message)):
        ModelCatalog.default().merge_file(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read catalog file"):
        ModelCatalog.from_file(tmp_path / "nope.toml")


def test_simulated_copy_keeps_prices_and_resolves_real_names() -> None:
    sim = ModelCatalog.default().simulated()
    model = sim.get("openai:gpt-4.1")
    assert model.name == "sim:gpt-4.1" and model.provider == "sim"
    assert model.input_cost_per_1k == ModelCatalog.default().get("gpt4").input_cost_per_1k
    assert sim.get("claude").name == "sim:claude-sonnet-5-5"


def test_duplicate_add_needs_replace() -> None:
    catalog = ModelCatalog([ModelProfile(name="a:b", cost_per_1k_tokens=1)])
    with pytest.raises(ConfigurationError, match="already in the catalog"):
        catalog.add(ModelProfile(name="a:b", cost_per_1k_tokens=2))
    catalog.add(ModelProfile(name="a:b", cost_per_1k_tokens=2), replace=True)
    assert catalog.get("a:b").cost_per_1k_tokens == 2


def test_a_profile_refuses_an_unknown_specialty_and_a_judge_only_that_is_not_a_boolean() -> None:
    with pytest.raises(ValueError, match="unknown domain 'cooking': specialties are among coding, math, science"):
        ModelProfile(name="sim:a", specialties=("coding", "cooking"))
    with pytest.raises(ValueError, match="judge_only"):
        ModelProfile.model_validate({"name": "sim:a", "judge_only": "yes"})
    assert ModelProfile(name="sim:a", specialties=("math",), judge_only=True).judge_only is True


def test_an_alias_that_is_another_models_name_is_refused_from_code_as_from_a_file() -> None:
    catalog = ModelCatalog.default()
    before = catalog.version
    mini = ModelProfile(name="acme:mini", cost_per_1k_tokens=0.001, aliases=("openai:gpt-4o",))
    with pytest.raises(ConfigurationError, match="alias 'openai:gpt-4o' is already a model's name"):
        catalog.add(mini)
    with pytest.raises(ConfigurationError, match="alias 'openai:gpt-4o' is already a model's name"):
        catalog.update("gpt4", aliases=("openai:gpt-4o",))
    with pytest.raises(ConfigurationError, match="alias 'openai:gpt-4o' is already a model's name"):
        catalog.alias("openai:gpt-4o", "gpt4")
    with pytest.raises(ConfigurationError, match="already a model's name"):
        ModelCatalog([ModelProfile(name="a:b", cost_per_1k_tokens=0), mini.model_copy(update={"aliases": ("a:b",)})])
    assert catalog.version == before and "acme:mini" not in catalog
    assert catalog.get("openai:gpt-4o").name == "openai:gpt-4o" and catalog.get("gpt4").name == "openai:gpt-4.1"
    catalog.add(mini.model_copy(update={"aliases": ("acme",)}))  # an alias of its own is fine
    assert catalog.get("acme").name == "acme:mini"


def test_an_alias_another_model_holds_is_not_moved_silently_by_add_or_update() -> None:
    # Before: `add` moved `gpt4` to the new model without a word (runs asking for gpt4 ran acme:mini), and removing
    # acme:mini then left `gpt4` resolving to nothing at all.
    catalog = ModelCatalog.default()
    mini = ModelProfile(name="acme:mini", cost_per_1k_tokens=0.001, aliases=("gpt4",))
    with pytest.raises(ConfigurationError, match=r"^model 'acme:mini': alias 'gpt4' already names 'openai:gpt-4.1': "):
        catalog.add(mini)
    assert "acme:mini" not in catalog and catalog.get("gpt4").name == "openai:gpt-4.1"
    with pytest.raises(ConfigurationError, match=r"alias 'gpt4' already names 'openai:gpt-4.1'.*catalog.alias"):
        catalog.update("openai:gpt-4o", aliases=("gpt4",))
    assert catalog.get("gpt4").name == "openai:gpt-4.1" and catalog.get("openai:gpt-4o").aliases == ()
    catalog.add(mini.model_copy(update={"aliases": ("mini",)}))
    catalog.alias("gpt4", "acme:mini")  # moving it is said explicitly
    assert catalog.get("gpt4").name == "acme:mini"
    catalog.add(mini.model_copy(update={"aliases": ("gpt4", "mini")}), replace=True)  # its own alias: fine
    copied = ModelCatalog(catalog, aliases=catalog.aliases)  # (as `copy()` builds a catalog)
    assert copied.get("gpt4").name == "acme:mini"


def test_an_alias_moved_to_a_model_goes_back_when_that_model_is_removed() -> None:
    # Before: `catalog.alias("gpt4", "acme:mini")` then `catalog.remove("acme:mini")` left `gpt4` naming nothing: the
    # model it had named (openai:gpt-4.1, still in the catalog) lost it for good.
    catalog = ModelCatalog.default()
    for name in ("acme:mini", "acme:max"):
        catalog.add(ModelProfile(name=name, cost_per_1k_tokens=0.001))
    catalog.alias("gpt4", "acme:mini")
    catalog.remove("acme:mini")
    assert catalog.get("gpt4").name == "openai:gpt-4.1"
    catalog.alias("gpt4", "acme:max")
    catalog.alias("gpt4", "openai:gpt-4.1")  # moved back: removing acme:max then changes nothing
    catalog.remove("acme:max")
    assert catalog.get("gpt4").name == "openai:gpt-4.1"
    catalog.alias("fast", "openai:gpt-4o")  # an alias no model had: gone with its model
    catalog.remove("openai:gpt-4o")
    assert "fast" not in catalog
    source = ModelCatalog.default()  # on a derived catalog, through its source's later changes too
    source.add(ModelProfile(name="acme:x", cost_per_1k_tokens=0.001))
    derived = source.with_only(["openai", "acme"])
    derived.alias("gpt4", "acme:x")
    derived.remove("acme:x")
    source.update("openai:gpt-4o", quality=8.1)  # (rebuilt from the source, its own changes replayed)
    assert derived.get("gpt4").name == "openai:gpt-4.1"


def test_an_unknown_model_of_a_large_catalog_names_the_closest_models_not_all_of_them() -> None:
    # Before: every name of the catalog, sorted, in one message (hundreds for OpenRouter's models, ~15,000 characters
    # here), in which `openrouter:acme/model-17` was lost.
    catalog = ModelCatalog.default()
    for i in range(400):
        catalog.add(ModelProfile(name=f"openrouter:acme/model-{i}", cost_per_1k_tokens=0.001))
    with pytest.raises(UnknownModelError) as caught:
        catalog.get("openrouter:acme/model-17x")
    message = str(caught.value)
    assert message.startswith("unknown model 'openrouter:acme/model-17x'; known models: openrouter:acme/model-17, ")
    assert message.endswith("(the closest of 422; list(catalog) or `orchestratex models` lists them all)")
    assert len(message) < 600
    with pytest.raises(UnknownModelError, match=r"known models: sim:claude-haiku-4-5, .*\(the closest of 422"):
        Orchestrator(catalog=catalog, simulate=True).run_sync("hi", preferred_models=["claud"])
    with pytest.raises(UnknownModelError, match=r"… \(10 of 422; list\(catalog\)") as caught:
        catalog.get("zzzz")
    assert len(str(caught.value)) < 600
    small = ModelCatalog.default()  # a catalog of a few dozen models is still listed whole
    with pytest.raises(UnknownModelError, match=r"; known models: anthropic:claude-haiku-4-5, .*, openai:o4-mini$"):
        small.get("zzzz")


def test_a_catalog_is_made_of_profiles_and_says_how_to_read_a_file() -> None:
    with pytest.raises(UserError, match=r"ModelCatalog\('models.toml'\) takes ModelProfile objects: .*from_file"):
        ModelCatalog("models.toml")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="a catalog holds ModelProfile objects, not dict"):
        ModelCatalog.default().add({"name": "a:b", "cost_per_1k_tokens": 0})  # type: ignore[arg-type]


def test_a_catalog_shows_its_models_and_watched_files_not_an_address(tmp_path: Path) -> None:
    catalog = ModelCatalog.default()
    assert repr(catalog) == (
        f"ModelCatalog({len(catalog)} models: ['openai:gpt-6.2-astra', 'openai:gpt-6.2-sol', 'openai:gpt-6-luna',"
        f" 'openai:gpt-4.1', … ({len(catalog) - 4} more)])"
    )
    assert repr(ModelCatalog()) == "ModelCatalog(no models)"
    pair = ModelCatalog(ModelProfile(name=f"sim:{n}", cost_per_1k_tokens=0) for n in ("a", "b"))
    assert repr(pair) == "ModelCatalog(2 models: ['sim:a', 'sim:b'])"
    path = tmp_path / "models.toml"
    path.write_text('[[models]]\nname = "sim:c"\ncost_per_1k_tokens = 0\n', encoding="utf-8")
    assert repr(pair.watch(path)) == f"ModelCatalog(3 models: ['sim:a', 'sim:b', 'sim:c'], watching {str(path)!r})"


def test_a_catalog_of_one_profile_and_a_provider_name_where_a_list_goes_are_refused_saying_what_to_write() -> None:
    # ModelCatalog(profile) said "a catalog holds ModelProfile objects, not tuple" (the profile's fields, iterated);
    # with_only("openai") read the name letter by letter and returned a catalog of no model without a word.
    profile = ModelProfile(name="acme:mini", cost_per_1k_tokens=0.001)
    with pytest.raises(UserError, match=r"a list of ModelProfile objects, not one \('acme:mini'\): write ModelCatalog"):
        ModelCatalog(profile)  # type: ignore[arg-type]
    catalog = ModelCatalog.default()
    with pytest.raises(UserError, match=r"write with_only\(\['openai'\]\)"):
        catalog.with_only("openai")
    with pytest.raises(UserError, match="a list of provider names, not int"):
        catalog.with_only(5)  # type: ignore[arg-type]
    only = catalog.with_only(["openai"])
    assert len(only) > 0 and {m.provider for m in only} == {"openai"}
    assert ModelCatalog([profile]).get("acme:mini") == profile


def test_a_catalog_made_of_a_mapping_or_of_nothing_says_what_to_write() -> None:
    # ModelCatalog({"name": "acme:mini", …}) iterated the dict's keys and said "a catalog holds ModelProfile objects,
    # not str: read a catalog file with ModelCatalog.from_file(path)"; ModelCatalog(None) raised "TypeError:
    # 'NoneType' object is not iterable", and aliases=["fast"] "AttributeError: 'list' object has no attribute 'items'"
    with pytest.raises(UserError, match=r"^ModelCatalog takes a list of ModelProfile objects, not dict: for catalog "):
        ModelCatalog(cast(Any, {"name": "acme:mini", "cost_per_1k_tokens": 0.001}))
    with pytest.raises(UserError, match=r"^ModelCatalog takes a list of ModelProfile objects, not NoneType$"):
        ModelCatalog(None)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"^ModelCatalog aliases must be a mapping of alias to model name .* not list$"):
        ModelCatalog([], aliases=["fast"])  # type: ignore[arg-type]


@pytest.mark.parametrize("alias", ["", " fast", "fast\n"])
def test_an_alias_that_is_empty_or_has_white_space_around_it_is_refused(tmp_path: Path, alias: str) -> None:
    # An empty alias (`catalog.alias("", "gpt4")`, `"" = "gpt4"` in a file's [aliases]) was taken, so an empty name
    # resolved to that model: a blank entry of `preferred_models` ran, routed to it without a word. One with spaces
    # around it was taken and never matched a name as written.
    catalog = ModelCatalog.default()
    with pytest.raises(ConfigurationError, match=r"an alias is a non-empty string without white space around it"):
        catalog.alias(alias, "gpt4")
    with pytest.raises(ValueError, match=r"an alias is a non-empty string"):
        ModelProfile(name="acme:mini", cost_per_1k_tokens=0.001, aliases=(alias,))
    path = tmp_path / "models.toml"
    path.write_text(f'[aliases]\n{json.dumps(alias)} = "gpt4"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"models.toml: aliases: alias .*: an alias is a non-empty string"):
        ModelCatalog.from_file(path)
    assert alias not in catalog and "" not in catalog
    with pytest.raises(UserError):
        Orchestrator(simulate=True, catalog=catalog).run_sync("Hello", preferred_models=[alias])


@pytest.mark.parametrize(
    ("name", "fixed"),
    [
        ("openai:gpt-4o ", "openai:gpt-4o"),
        (" acme:mini", "acme:mini"),
        ("acme: mini", "acme:mini"),
        ("acme :mini", "acme:mini"),
    ],
)
def test_a_model_name_with_white_space_around_it_is_refused(tmp_path: Path, name: str, fixed: str) -> None:
    # `name = "openai:gpt-4o "` in a catalog file was taken: its id went to the vendor as "gpt-4o " (a 404 on every
    # call, or "has no price" for a vendor's model the source prices), and `" acme:mini"` had the provider " acme",
    # which no provider serves: the model left the orchestrator's catalog without a word
    message = rf"model {re.escape(repr(name))}: its name has white space around it or around its ':': write '{fixed}'"
    with pytest.raises(ValueError, match=message):
        ModelProfile(name=name, cost_per_1k_tokens=0.001)
    path = tmp_path / "models.toml"
    path.write_text(f"[[models]]\nname = {json.dumps(name)}\ncost_per_1k_tokens = 0.001\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=rf"models.toml: models\[0\] entry: {message}"):
        ModelCatalog.from_file(path)
    with pytest.raises(ValueError, match=r"its version 'gpt-4.1 ' has white space around it: write 'gpt-4.1'"):
        ModelProfile(name="acme:mini", version="gpt-4.1 ", cost_per_1k_tokens=0.001)
    with pytest.raises(ConfigurationError, match=r"its version ' gpt-4.1' has white space around it"):
        ModelCatalog.default().update("gpt4", version=" gpt-4.1")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"specialties": ("cooking",)}, "specialties: unknown domain 'cooking': specialties are among coding, "),
        (
            {"cost_per_1k_tokens": 0.5, "input_cost_per_1k": 0.1},
            "cost_per_1k_tokens=0.5 disagrees with the input and output prices (0.1, 0.008)",
        ),
        ({"input_cost_per_1k": -1}, "input_cost_per_1k: Input should be greater than or equal to 0"),
    ],
)
def test_an_update_refused_says_why_as_a_catalog_file_does(fields: dict[str, object], message: str) -> None:
    # `catalog.update("gpt4", specialties=("cooking",))` said "cannot update 'openai:gpt-4.1': specialties Value
    # error, unknown domain …" (pydantic's prefix), and a check of the whole profile "…:  Value error, …"
    with pytest.raises(ConfigurationError, match=rf"^cannot update 'openai:gpt-4.1': {re.escape(message)}"):
        ModelCatalog.default().update("gpt4", **fields)


async def test_copy_copy_of_a_catalog_is_independent_as_catalog_copy_is() -> None:
    # `copy.copy(catalog)` shared the models and aliases: disabling a model in the copy disabled it in the original
    # without changing the original's `version`, so an orchestrator using the original routed on its cached pool
    import copy

    from orchestratex import FunctionProvider

    models = [ModelProfile(name=f"function:{n}", cost_per_1k_tokens=0.001) for n in ("a", "b", "c")]
    catalog = ModelCatalog(models, aliases={"first": "function:a"})
    orchestrator = Orchestrator(
        providers=[FunctionProvider(lambda r: '{"score": 9, "feedback": "ok"}' if r.purpose == "judge" else "42")],
        catalog=catalog,
    )
    assert [m.name for m in orchestrator.usable_models()] == ["function:a", "function:b", "function:c"]
    version = catalog.version
    shallow = copy.copy(catalog)
    shallow.set_status("function:a", "disabled")
    shallow.add(ModelProfile(name="function:d", cost_per_1k_tokens=0.001))
    shallow.alias("second", "function:b")
    assert (catalog.get("function:a").status, len(catalog), "second" in catalog) == ("active", 3, False)
    assert catalog.version == version
    assert shallow.get("first").name == "function:a" and len(shallow) == 4
    result = await orchestrator.run("Hello", max_iterations=1, preferred_models=["function:a", "function:b"])
    assert result.status == "completed"
    await orchestrator.aclose()


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        ([{"name": "acme:mini", "cost_per_1k_tokens": 0}], "list: for a list of models, write {'models': [...]}"),
        ("x", "str"),
    ],
)
def test_catalog_data_that_is_no_mapping_is_a_clear_error(data: object, shown: str) -> None:
    # `ModelCatalog.from_mapping(json.load(f))` of a JSON list of models raised "AttributeError: 'list' object has no
    # attribute 'get'", and a string was read letter by letter ("unknown key 'x'")
    message = rf"^catalog data must be a mapping with 'models' and 'aliases', not {re.escape(shown)}$"
    with pytest.raises(ConfigurationError, match=message):
        ModelCatalog.from_mapping(data)  # type: ignore[arg-type]
    catalog = ModelCatalog.default()
    with pytest.raises(ConfigurationError, match=message):
        catalog.merge_mapping(data)  # type: ignore[arg-type]
    assert len(catalog) == len(ModelCatalog.default())


@pytest.mark.parametrize(("path", "shown"), [(None, "NoneType None"), ("", "an empty path"), (5, "int 5")])
def test_a_catalog_file_path_that_is_no_path_is_a_clear_error(path: object, shown: str) -> None:
    # `ModelCatalog.from_file(os.environ.get("CATALOG"))` with the variable unset raised "TypeError: expected str,
    # bytes or os.PathLike object, not NoneType" (`merge_file` and `watch` too); "" read the working directory:
    # "cannot read catalog file '.': Is a directory"
    message = rf"^a catalog file is named by its path \(a str or Path, such as 'models.toml'\), not {shown}"
    with pytest.raises(ConfigurationError, match=message):
        ModelCatalog.from_file(cast(Any, path))
    catalog = ModelCatalog.default()
    with pytest.raises(ConfigurationError, match=message):
        catalog.merge_file(cast(Any, path))
    with pytest.raises(ConfigurationError, match=message):
        catalog.watch(cast(Any, path))
    if isinstance(path, str):
        with pytest.raises(ConfigurationError, match=message):
            Orchestrator(catalog=path)


def test_a_bare_model_id_that_several_providers_serve_is_named_ambiguous() -> None:
    # `catalog.get("llama3.2")` with ollama:llama3.2 and vllm:llama3.2 said "unknown model 'llama3.2': did you mean
    # 'llama3.2'? (names and aliases are matched exactly)"
    catalog = ModelCatalog(
        [ModelProfile(name=f"{p}:llama3.2", cost_per_1k_tokens=0) for p in ("vllm", "ollama")]
        + [ModelProfile(name="ollama:qwen3", cost_per_1k_tokens=0)]
    )
    with pytest.raises(
        UnknownModelError,
        match=r"^model 'llama3.2' is ambiguous: it is the model id of 2 models of the catalog \(ollama:llama3.2, "
        r"vllm:llama3.2\); name one in full$",
    ) as raised:
        catalog.get("llama3.2")
    assert raised.value.ambiguous == ["vllm:llama3.2", "ollama:llama3.2"]
    assert catalog.get("qwen3").name == "ollama:qwen3"  # (an id one model has stays its name)
    with pytest.raises(UnknownModelError, match=r"^model 'llama3.2' is ambiguous"):
        Orchestrator(providers=[], catalog=catalog, judges=["llama3.2"])


def test_the_simulated_copy_keeps_models_of_one_id_served_by_two_providers() -> None:
    # ollama:llama3.2 and vllm:llama3.2 both became sim:llama3.2: the simulated catalog (`simulate=True`, `orchestratex
    # run --provider sim`) kept one of them, and both real names resolved to it; a catalog of those two alone then
    # had one model, which no other could judge
    catalog = ModelCatalog(
        [
            ModelProfile(name=f"{p}:llama3.2", cost_per_1k_tokens=0, quality=q)
            for p, q in (("ollama", 6.0), ("vllm", 7.0))
        ]
        + [ModelProfile(name="sim:house", cost_per_1k_tokens=0), ModelProfile(name="acme:house", cost_per_1k_tokens=0)]
    )
    simulated = catalog.simulated()
    assert [m.name for m in simulated] == ["sim:llama3.2", "sim:vllm/llama3.2", "sim:house", "sim:acme/house"]
    assert simulated.get("ollama:llama3.2").quality == 6.0 and simulated.get("vllm:llama3.2").quality == 7.0
    assert simulated.get("acme:house").name == "sim:acme/house"
    two = ModelCatalog(m for m in catalog if m.version == "llama3.2")
    with Orchestrator(catalog=two, simulate=True) as orchestrator:
        # (one model behind two endpoints: neither judges the other's answers, a model never judges its own)
        with pytest.raises(ConfigurationError, match=r"sim:vllm/llama3.2: the same model behind another endpoint"):
            orchestrator.run_sync("Name three prime numbers", max_iterations=1)
    with Orchestrator(catalog=two, simulate=True, judging="when_needed") as orchestrator:
        result = orchestrator.run_sync("Name three prime numbers", max_iterations=1)  # (unjudged: it runs)
    assert result.status == "completed", result.error


def test_with_only_refuses_a_name_that_is_no_provider_of_the_catalog() -> None:
    # `with_only(["opnai"])` or `with_only(["OpenAI"])` (a typo, a capital) gave an empty catalog without a word: the
    # orchestrator given it then said no model was served, far from the mistake
    catalog = ModelCatalog.default()
    with pytest.raises(
        UserError, match=r"^'opnai' is no provider of this catalog \(its providers: openai, .*did you mean 'openai'\?$"
    ):
        catalog.with_only(["opnai"])
    with pytest.raises(UserError, match=r"^'OpenAI' is no provider of this catalog .*did you mean 'openai'\?$"):
        catalog.with_only(["anthropic", "OpenAI"])
    with pytest.raises(UserError, match=r"^'ollama' is no provider of this catalog \(its providers: [a-z, ]+\)$"):
        catalog.with_only(["ollama"])
    with pytest.raises(UserError, match=r"^with_only takes provider names \(strings\), not NoneType None"):
        catalog.with_only(cast(Any, [None]))
    kept = catalog.with_only(["openai", "gemini"])  # the providers it has are kept, as ever
    assert {m.provider for m in kept} == {"openai", "gemini"}
    assert list(catalog.with_only([])) == []


def test_an_orchestrator_given_providers_the_catalog_has_no_models_of_still_says_so() -> None:
    # the orchestrator keeps the models of the providers it is given, which may serve none of the catalog's: it is
    # built (and a run says no model is served), not refused by `with_only`'s check
    from orchestratex import FunctionProvider, Orchestrator

    orchestrator = Orchestrator(providers=[FunctionProvider(lambda request: "hi")], catalog=None)
    assert len(orchestrator.catalog) == 0
    orchestrator.close()


def test_worst_case_cost_refuses_token_counts_that_are_no_count() -> None:
    # `worst_case_cost(-5, 100)` gave less than the 100 output tokens alone cost (a "worst case" below what the call
    # can cost), and `True` was taken as 1 token, "5" failed with a TypeError deep in the arithmetic
    import numpy as np

    model = ModelProfile(name="acme:x", input_cost_per_1k=1.0, output_cost_per_1k=2.0)
    assert model.worst_case_cost(5, 100) == pytest.approx(0.205)
    assert model.worst_case_cost(cast(Any, np.int64(5)), 100) == pytest.approx(0.205)  # numpy's integers are counts
    assert model.worst_case_cost(cast(Any, 4.2), 100) == pytest.approx(0.205)  # a fraction rounds up: still a bound
    for bad, field in [((-5, 100), "input_tokens"), ((5, -1), "max_output_tokens"), ((math.nan, 1), "input_tokens")]:
        with pytest.raises(UserError, match=rf"^{field} must be a whole number of tokens >= 0, not -?\w+$"):
            model.worst_case_cost(*cast(Any, bad))
    for value in (True, "5", -0.5, None):
        with pytest.raises(UserError, match=r"^input_tokens must be a whole number of tokens >= 0"):
            model.worst_case_cost(cast(Any, value), 100)


def test_a_blended_price_of_another_number_type_prices_the_model_as_the_two_prices_would() -> None:
    # `cost_per_1k_tokens` given as numpy's `np.int64(0)` or `np.float32`, a Fraction or a Decimal (a catalog built
    # from a dataframe or from exact prices) was dropped in silence: the model was left unpriced, every run refused
    # it ("has no price: set input_cost_per_1k and output_cost_per_1k"), and `catalog.update(name,
    # cost_per_1k_tokens=np.int64(0))` made a priced model unpriced; `input_cost_per_1k` of those types was taken
    from decimal import Decimal
    from fractions import Fraction

    np = pytest.importorskip("numpy")
    for given in (np.int64(0), np.float32(0.5), Fraction(1, 2), Decimal("0.5")):
        model = ModelProfile(name="local:llama", cost_per_1k_tokens=cast(Any, given))
        assert model.priced
        assert model.input_cost_per_1k == model.output_cost_per_1k == model.cost_per_1k_tokens == float(given)
        assert type(model.cost_per_1k_tokens) is float
    catalog = ModelCatalog([ModelProfile(name="local:llama", cost_per_1k_tokens=0.1)])
    updated = catalog.update("local:llama", cost_per_1k_tokens=np.int64(0))
    assert updated.priced and catalog.get("local:llama").cost(Usage(input_tokens=10, output_tokens=10)) == 0
    with pytest.raises(ValueError, match="input_cost_per_1k"):  # NaN, as a float NaN is
        ModelProfile(name="local:llama", cost_per_1k_tokens=cast(Any, Decimal("NaN")))
    with pytest.raises(ValueError, match="disagrees with the input and output prices"):
        ModelProfile(
            name="local:llama",
            cost_per_1k_tokens=cast(Any, np.float32(0.5)),
            input_cost_per_1k=np.float32(0.25),
            output_cost_per_1k=np.float32(0.25),
        )
