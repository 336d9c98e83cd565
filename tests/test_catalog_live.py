"""A live catalog: changes, watched files and derived catalogs, with one source of truth for prices."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestratex import ModelCatalog, ModelProfile, Usage
from orchestratex.exceptions import ConfigurationError, UnknownModelError


def write(path: Path, text: str) -> None:
    """Write and move the modification time on, so even a same-size rewrite is seen."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 10_000_000, before + 10_000_000))


def test_blended_price_is_derived_from_the_input_and_output_prices() -> None:
    model = ModelProfile(name="a:b", input_cost_per_1k=0.001, output_cost_per_1k=0.003)
    assert model.cost_per_1k_tokens == 0.002
    copy = model.model_copy(update={"output_cost_per_1k": 0.005})
    assert copy.cost_per_1k_tokens == 0.003  # not the stale 0.002
    assert copy.cost(Usage(output_tokens=1000)) == 0.005  # no stale cached price either
    assert ModelProfile(name="a:b", cost_per_1k_tokens=0.01).input_cost_per_1k == 0.01
    assert ModelProfile.model_validate(model.model_dump()) == model  # a dump round-trips
    with pytest.raises(ValueError, match="disagrees with the input and output prices"):
        ModelProfile(name="a:b", input_cost_per_1k=0.001, output_cost_per_1k=0.003, cost_per_1k_tokens=0.5)


def test_a_new_input_price_drops_the_old_cached_price() -> None:
    catalog = ModelCatalog(
        [ModelProfile(name="a:b", input_cost_per_1k=0.001, output_cost_per_1k=0.003, cached_input_cost_per_1k=0.0001)]
    )
    blended = catalog.update("a:b", cost_per_1k_tokens=0.01)
    assert (blended.input_cost_per_1k, blended.cached_input_cost_per_1k) == (0.01, None)
    assert blended.cost(Usage(input_tokens=1000, cached_input_tokens=1000)) == 0.01  # at the new input price
    catalog.update("a:b", input_cost_per_1k=0.002, output_cost_per_1k=0.004, cached_input_cost_per_1k=0.0002)
    assert catalog.update("a:b", input_cost_per_1k=0.004).cached_input_cost_per_1k is None
    catalog.update("a:b", cached_input_cost_per_1k=0.0004)
    kept = catalog.update("a:b", output_cost_per_1k=0.02)  # the input price stays: so does its cached price
    assert kept.cached_input_cost_per_1k == 0.0004
    given = catalog.update("a:b", input_cost_per_1k=0.008, cached_input_cost_per_1k=0.0008)
    assert given.cached_input_cost_per_1k == 0.0008


@pytest.mark.parametrize("price", ["input_cost_per_1k", "output_cost_per_1k"])
def test_a_blended_price_with_only_one_price_is_refused(price: str) -> None:
    with pytest.raises(ValueError, match=f"given with {price} only: give input_cost_per_1k and output_cost_per_1k"):
        ModelProfile.model_validate({"name": "a:b", price: 0.001, "cost_per_1k_tokens": 0.002})


@pytest.mark.parametrize("value", ["0.001", True])
def test_a_price_that_is_not_a_number_is_refused(value: object) -> None:
    for key in ("cost_per_1k_tokens", "input_cost_per_1k", "cached_input_cost_per_1k"):
        with pytest.raises(ValueError, match="Input should be a valid number"):
            ModelProfile.model_validate({"name": "a:b", "output_cost_per_1k": 0, "input_cost_per_1k": 0, key: value})


def test_update_and_set_status_bump_the_version_and_revalidate() -> None:
    catalog = ModelCatalog([ModelProfile(name="a:m", input_cost_per_1k=0.001, output_cost_per_1k=0.001)])
    v0 = catalog.version
    updated = catalog.update("m", input_cost_per_1k=0.02, output_cost_per_1k=0.04)
    assert catalog.get("a:m") is updated and updated.cost_per_1k_tokens == 0.03
    assert catalog.version > v0
    v1 = catalog.version
    assert catalog.set_status("a:m", "disabled").status == "disabled"
    assert catalog.version > v1
    assert catalog.update("a:m", cost_per_1k_tokens=0.5).output_cost_per_1k == 0.5
    with pytest.raises(ConfigurationError, match="unknown field"):
        catalog.update("a:m", price=1)
    with pytest.raises(ConfigurationError, match="input_cost_per_1k"):
        catalog.update("a:m", input_cost_per_1k=-1)
    with pytest.raises(UnknownModelError):
        catalog.update("a:nope", quality=9)


def test_derived_catalogs_follow_their_source() -> None:
    source = ModelCatalog(
        [
            ModelProfile(name="openai:x", cost_per_1k_tokens=0.001, aliases=("ex",)),
            ModelProfile(name="anthropic:y", cost_per_1k_tokens=0.002),
        ]
    )
    only, sim = source.with_only(["openai"]), source.simulated()
    source.update("openai:x", input_cost_per_1k=0.1)
    source.add(ModelProfile(name="openai:z", cost_per_1k_tokens=0.003))
    assert only.get("ex").input_cost_per_1k == 0.1
    assert [m.name for m in only] == ["openai:x", "openai:z"]
    assert sim.get("openai:x").name == "sim:x" and sim.get("openai:x").input_cost_per_1k == 0.1
    sim.set_status("sim:z", "disabled")  # a change made to the derived catalog itself ...
    source.update("openai:x", quality=9.0)
    assert sim.get("sim:z").status == "disabled"  # ... survives its source's next change
    assert sim.get("sim:x").quality == 9.0
    snapshot = source.copy()
    source.remove("openai:z")
    assert "openai:z" in snapshot and "openai:z" not in only


def test_a_watched_file_is_reloaded_when_it_changes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "models.toml"
    write(path, '[[models]]\nname = "acme:a"\ncost_per_1k_tokens = 0.001\n')
    base = ModelCatalog([ModelProfile(name="acme:b", cost_per_1k_tokens=0.002)])
    catalog = base.watch(path, interval=0)
    assert {m.name for m in catalog} == {"acme:a", "acme:b"}
    write(
        path,
        '[[models]]\nname = "acme:a"\ncost_per_1k_tokens = 0.05\n\n'
        '[[models]]\nname = "acme:b"\ncost_per_1k_tokens = 0.0001\nstatus = "disabled"\n\n'
        '[[models]]\nname = "acme:c"\ncost_per_1k_tokens = 0.003\n',
    )
    assert catalog.get("acme:a").input_cost_per_1k == 0.05
    assert catalog.get("acme:b").status == "disabled"
    assert "acme:c" in catalog
    write(path, "[[models]\nbroken")  # half-written: skipped, the previous models stay
    with caplog.at_level("WARNING", logger="orchestratex.catalog"):
        assert catalog.get("acme:c").input_cost_per_1k == 0.003
    assert "not reloaded" in caplog.text
    write(path, '[[models]]\nname = "acme:a"\ncost_per_1k_tokens = 0.002\n')
    assert catalog.get("acme:a").input_cost_per_1k == 0.002
    assert "acme:c" not in catalog  # added by the file, gone with it
    assert catalog.get("acme:b").status == "active"  # back to what it was before the file overrode it


def test_a_watched_file_is_checked_at_most_every_interval(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    write(path, '{"models": [{"name": "acme:a", "cost_per_1k_tokens": 0.001}]}')
    catalog = ModelCatalog.from_file(path, watch=True, interval=3600)
    write(path, '{"models": [{"name": "acme:a", "cost_per_1k_tokens": 0.009}]}')
    assert catalog.get("acme:a").input_cost_per_1k == 0.001  # not looked at again yet
    catalog.refresh()
    assert catalog.get("acme:a").input_cost_per_1k == 0.009
    with pytest.raises(ConfigurationError, match="cannot read catalog file"):
        ModelCatalog.from_file(tmp_path / "missing.toml", watch=True)


def test_a_watched_edit_with_a_bad_alias_is_skipped_and_runs_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from orchestratex import Orchestrator

    path = tmp_path / "models.toml"
    entry = '[[models]]\nname = "sim:{}"\ncost_per_1k_tokens = 0\n'
    write(path, "include_default = false\n" + entry.format("alpha") + entry.format("beta"))
    catalog = ModelCatalog.from_file(path, watch=True, interval=0)
    with Orchestrator(catalog=catalog, simulate=True) as orchestrator:
        write(path, "include_default = false\n" + entry.format("alpha") + '[aliases]\nfast = "sim:nothere"\n')
        with caplog.at_level("WARNING", logger="orchestratex.catalog"):
            result = orchestrator.run_sync("Name three prime numbers", max_iterations=1)
        assert result.status == "completed"
    assert "aliases.fast: unknown model 'sim:nothere'" in caplog.text
    assert {m.name for m in catalog} == {"sim:alpha", "sim:beta"} and "fast" not in catalog.aliases  # all or nothing


def test_a_watched_file_caught_empty_as_it_is_saved_in_place_keeps_its_models(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An editor saving in place (or `open(path, "w")`) empties the file before writing it. Read at that moment, the
    file was a valid catalog of no model: its models left the catalog until the next check, and runs naming one
    failed with `UnknownModelError` (or went to another model); with `include_default = false` the warning said
    "include_default changed … (restart to apply)", though nothing had changed."""
    from orchestratex import Orchestrator, _catalog_file

    path = tmp_path / "models.toml"
    entry = '[[models]]\nname = "sim:house"\ncost_per_1k_tokens = {}\nquality = 9.9\n'
    write(path, entry.format(0.001))
    catalog = ModelCatalog.default().simulated().watch(path, interval=0)
    with Orchestrator(catalog=catalog, simulate=True) as orchestrator:
        write(path, "")  # truncated, not written yet
        with caplog.at_level("WARNING", logger="orchestratex.catalog"):
            result = orchestrator.run_sync("Name three prime numbers", max_iterations=1, preferred_models=["house"])
        assert (result.status, result.final_model) == ("completed", "sim:house")
        assert f"not reloaded, the previous models stay: {path} is empty (being written?)" in caplog.text
        write(path, entry.format(0.002))  # written: read
        assert catalog.get("house").input_cost_per_1k == 0.002
        # read while it was being written (truncated after it was looked at): what was read is not applied
        read = _catalog_file.read_catalog

        def read_as_it_is_rewritten(at: Path) -> object:
            content = read(at)
            write(path, entry.format(0.004))
            return content

        write(path, "include_default = true\n")
        monkeypatch.setattr(_catalog_file, "read_catalog", read_as_it_is_rewritten)
        assert "house" in catalog
        monkeypatch.setattr(_catalog_file, "read_catalog", read)
        assert catalog.get("house").input_cost_per_1k == 0.004  # read again, whole
    write(path, "include_default = false\n" + entry.format(0.001))
    narrowed = ModelCatalog.from_file(path, watch=True, interval=0)
    write(path, "")
    caplog.clear()
    with caplog.at_level("WARNING", logger="orchestratex.catalog"):
        assert [m.name for m in narrowed] == ["sim:house"]
    assert "is empty (being written?)" in caplog.text and "include_default changed" not in caplog.text


def test_a_watched_file_named_by_a_relative_path_takes_a_new_model_without_saying_its_providers_changed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`orchestratex serve --catalog models.toml` (a path relative to the folder it runs in): adding a model to the
    file logged the WARNING "its [providers] changed; endpoints are built when an orchestrator starts (restart to
    apply)" though no endpoint had changed (the first read named the file as given, every reload by its absolute
    path, and an endpoint's name of its file counted in the comparison): the docs say a new model needs no restart."""
    monkeypatch.chdir(tmp_path)
    endpoint = '[providers.local]\nkind = "openai"\nbase_url = "{}"\n'
    model = '[[models]]\nname = "local:{}"\ninput_cost_per_1k = 0\noutput_cost_per_1k = 0\n'
    path = tmp_path / "models.toml"
    write(path, endpoint.format("http://127.0.0.1:9/v1") + model.format("a"))
    catalog = ModelCatalog.from_file("models.toml", watch=True, interval=0)
    write(path, endpoint.format("http://127.0.0.1:9/v1") + model.format("a") + model.format("b"))
    with caplog.at_level("WARNING", logger="orchestratex.catalog"):
        assert "local:b" in catalog
    assert "[providers] changed" not in caplog.text
    write(path, endpoint.format("http://127.0.0.1:10/v1") + model.format("a") + model.format("b"))  # (a real change)
    with caplog.at_level("WARNING", logger="orchestratex.catalog"):
        assert "local:b" in catalog
    assert "its [providers] changed; endpoints are built when an orchestrator starts (restart to apply)" in caplog.text


def test_a_watched_file_layered_over_a_catalog_may_alias_its_models(tmp_path: Path) -> None:
    path = tmp_path / "override.toml"
    write(
        path,
        '[aliases]\nfast = "openai:gpt-4.1-mini"\n\n[[models]]\nname = "openai:gpt-4.1"\ninput_cost_per_1k = 0.0018\n'
        "output_cost_per_1k = 0.0072\n",
    )
    catalog = ModelCatalog.default().watch(path, interval=0)
    assert catalog.get("fast").name == "openai:gpt-4.1-mini" and catalog.get("gpt4").input_cost_per_1k == 0.0018
    write(path, '[[models]]\nname = "openai:gpt-4.1"\nquality = 9.5\n')  # no prices: the source's, as on first load
    model = catalog.get("gpt4")
    assert model.quality == 9.5 and (model.input_cost_per_1k, model.output_cost_per_1k) == (0.002, 0.008)


def test_an_alias_removed_from_a_watched_file_goes_back_to_what_it_was(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    models = '[[models]]\nname = "house:a"\ncost_per_1k_tokens = 0\n'
    write(path, models + '[aliases]\nfast = "house:a"\ngpt4 = "house:a"\n')
    catalog = ModelCatalog.default().watch(path, interval=0)
    assert catalog.get("fast").name == catalog.get("gpt4").name == "house:a"
    write(path, models)
    assert "fast" not in catalog  # the file added it: gone with it
    assert catalog.get("gpt4").name == "openai:gpt-4.1"  # the file overrode it: back to the default's


def test_an_alias_a_watched_files_model_took_over_goes_back_when_the_model_leaves_the_file(tmp_path: Path) -> None:
    # Before: a model of the file carrying `aliases = ["gpt4"]` took `gpt4` over, and once the file no longer had it
    # (or no longer gave it that alias) `gpt4` resolved to nothing: every run asking for gpt4 failed.
    path = tmp_path / "models.toml"
    write(path, '[[models]]\nname = "house:a"\ncost_per_1k_tokens = 0\naliases = ["gpt4", "house"]\n')
    catalog = ModelCatalog.default().watch(path, interval=0)
    assert catalog.get("gpt4").name == catalog.get("house").name == "house:a"
    write(path, '[[models]]\nname = "house:a"\ncost_per_1k_tokens = 0.001\naliases = ["gpt4", "house"]\n')
    assert catalog.get("gpt4").cost_per_1k_tokens == 0.001  # an edit of the model keeps what it carries
    write(path, '[[models]]\nname = "house:a"\ncost_per_1k_tokens = 0\naliases = ["house"]\n')
    assert catalog.get("gpt4").name == "openai:gpt-4.1" and catalog.get("house").name == "house:a"
    write(path, '[[models]]\nname = "house:a"\ncost_per_1k_tokens = 0\naliases = ["gpt4"]\n')
    assert catalog.get("gpt4").name == "house:a"
    write(path, '[[models]]\nname = "house:b"\ncost_per_1k_tokens = 0\n')
    assert catalog.get("gpt4").name == "openai:gpt-4.1" and "house" not in catalog and "house:a" not in catalog


def test_watching_the_same_file_again_layers_it_once(tmp_path: Path) -> None:
    """`catalog.watch(path)` run a second time (a notebook cell run again, a setup function called twice) laid a
    second layer of the file over the first: a model or alias removed from the file then stayed in the catalog
    for good (the second layer's "before" was the first layer's model) and the edit never showed."""
    path = tmp_path / "models.toml"
    entry = '[[models]]\nname = "house:{}"\ncost_per_1k_tokens = {}\n'
    write(path, entry.format("a", 0.001) + entry.format("b", 0.002) + '[aliases]\nfast = "house:b"\n')
    catalog = ModelCatalog.default()
    assert catalog.watch(path, interval=0) is catalog.watch(tmp_path / "." / "models.toml", interval=0) is catalog
    write(path, entry.format("a", 0.005))
    assert "house:b" not in catalog and "fast" not in catalog
    assert catalog.get("house:a").cost_per_1k_tokens == 0.005
    write(path, "# no models for now\n")  # (an empty file is one being written: it is read once written)
    assert "house:a" not in catalog and "openai:gpt-4.1" in catalog


def test_a_watched_file_first_without_models_survives_a_bad_edit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "models.toml"
    write(path, "models = []\n")
    catalog = ModelCatalog.default().watch(path, interval=0)
    write(path, "[[models]\nname=")
    with caplog.at_level("WARNING", logger="orchestratex.catalog"):
        assert len(catalog) == len(ModelCatalog.default())
    assert "not reloaded" in caplog.text


def test_an_alias_a_changed_profile_no_longer_carries_no_longer_resolves() -> None:
    catalog = ModelCatalog.default()
    catalog.update("openai:gpt-4o", aliases=("four-o",))
    assert catalog.get("four-o").name == "openai:gpt-4o"
    catalog.update("openai:gpt-4o", aliases=("omni",))  # "four-o" kept resolving to gpt-4o
    assert "four-o" not in catalog and "four-o" not in catalog.aliases
    assert catalog.get("omni").name == "openai:gpt-4o"
    catalog.add(ModelProfile(name="acme:x", cost_per_1k_tokens=0.1, aliases=("fast",)))
    catalog.add(ModelProfile(name="acme:x", cost_per_1k_tokens=0.1, aliases=("quick",)), replace=True)
    assert "fast" not in catalog and catalog.get("quick").name == "acme:x"
    catalog.update("gpt4", quality=8.0)  # an alias of the catalog's own table stays
    assert catalog.get("gpt4").name == "openai:gpt-4.1"


@pytest.mark.parametrize("interval", ["1", True, float("nan"), -1])
def test_a_watch_interval_that_is_no_number_of_seconds_is_refused(interval: object, tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text('[[models]]\nname = "sim:c"\ncost_per_1k_tokens = 0\n', encoding="utf-8")
    # "1" raised a bare TypeError ('<' not supported …); True and nan were taken
    with pytest.raises(ConfigurationError, match=r"^the catalog watch interval must be a number of seconds >= 0, not"):
        ModelCatalog.from_file(path, watch=True, interval=interval)  # type: ignore[arg-type]
    catalog = ModelCatalog()
    with pytest.raises(ConfigurationError, match="watch interval"):
        catalog.watch(path, interval=interval)  # type: ignore[arg-type]
    assert len(catalog) == 0
    # the same file watched again (a notebook cell run again, with another interval): "1" raised a bare TypeError
    # and NaN was taken, after which the file was never due to be read again (its edits never showed)
    catalog.watch(path, interval=0)
    with pytest.raises(ConfigurationError, match=r"^the catalog watch interval must be a number of seconds >= 0, not"):
        catalog.watch(path, interval=interval)  # type: ignore[arg-type]
    path.write_text('[[models]]\nname = "sim:dd"\ncost_per_1k_tokens = 0\n', encoding="utf-8")
    assert [m.name for m in catalog] == ["sim:dd"]  # still watched, at the interval it had


def test_an_orchestrators_derived_catalog_pickles_and_still_follows_its_source() -> None:
    # `Orchestrator(providers=[SimulatedProvider()]).catalog` (a `simulated().with_only(...)` of the default catalog)
    # could not be pickled — "Can't pickle local object 'ModelCatalog.simulated.<locals>.build'" — so it could not be
    # handed to a ProcessPoolExecutor or multiprocessing worker; nor could a derived catalog once changed itself.
    import pickle

    from orchestratex import Orchestrator, SimulatedProvider

    catalog = Orchestrator(providers=[SimulatedProvider(seed=0, latency_scale=0)]).catalog
    catalog.set_status("gpt4", "disabled")
    catalog.alias("fast", "sim:gpt-4o-mini")
    catalog.remove("sim:o3")
    copy = pickle.loads(pickle.dumps(catalog))
    assert [m.name for m in copy] == [m.name for m in catalog]
    assert copy.get("gpt4").status == "disabled" and copy.get("fast").name == "sim:gpt-4o-mini"
    assert "sim:o3" not in copy
    only = pickle.loads(pickle.dumps(ModelCatalog.default().with_only(["anthropic"])))
    assert {m.provider for m in only} == {"anthropic"}
    # the copy's source came with it: a change there reaches the copy, its own changes kept
    link = copy._derivation
    assert link is not None
    while link.source._derivation is not None:
        link = link.source._derivation
    link.source.update("openai:gpt-4o", quality=9.5)
    assert copy.get("sim:gpt-4o").quality == 9.5 and copy.get("gpt4").status == "disabled"
    assert "sim:o3" not in copy and copy.get("fast").name == "sim:gpt-4o-mini"


def test_a_derived_catalogs_own_change_keeps_the_sources_later_changes_to_other_fields(tmp_path: Path) -> None:
    # A status set on an orchestrator's catalog (derived from the one given: `simulated()`, `with_only`) was kept as
    # the whole profile of that moment and laid over every rebuild: the source's later new price for that model
    # (an edit of its watched file, `update`) never reached the orchestrator, which went on reserving and billing
    # at the old one.
    from orchestratex import Orchestrator

    path = tmp_path / "models.toml"
    path.write_text(
        'include_default = false\n[[models]]\nname = "openai:x"\ncost_per_1k_tokens = 0.001\n'
        '[[models]]\nname = "openai:y"\ncost_per_1k_tokens = 0.002\n',
        encoding="utf-8",
    )
    source = ModelCatalog.from_file(path, watch=True, interval=0)
    catalog = Orchestrator(catalog=source, simulate=True).catalog  # the simulated copy of the file's catalog
    catalog.set_status("openai:x", "deprecated")
    catalog.update("openai:y", quality=9.0)
    path.write_text(
        'include_default = false\n[[models]]\nname = "openai:x"\n'
        "input_cost_per_1k = 0.004\noutput_cost_per_1k = 0.008\n"
        '[[models]]\nname = "openai:y"\ncost_per_1k_tokens = 0.002\nquality = 3.0\n',
        encoding="utf-8",
    )
    os.utime(path, (1, 1))  # (another signature, whatever the clock's resolution)
    x = catalog.get("openai:x")
    assert (x.name, x.input_cost_per_1k, x.output_cost_per_1k, x.status) == ("sim:x", 0.004, 0.008, "deprecated")
    assert catalog.get("openai:y").quality == 9.0  # the field the change named stays the change's
    source.update("openai:x", input_cost_per_1k=0.006, output_cost_per_1k=0.01)
    assert catalog.get("sim:x").cost(Usage(input_tokens=1000, output_tokens=1000)) == 0.016


def test_a_file_watched_on_a_derived_catalog_stays_laid_over_it_when_its_source_changes(tmp_path: Path) -> None:
    # `orchestrator.catalog.watch("local.toml")` (a file layered over the orchestrator's own, simulated or
    # provider-restricted copy of the catalog it was given): the file's models and aliases vanished at the source's
    # next change (an `update`, an edit of the source's own watched file), until the file itself changed again.
    from orchestratex import Orchestrator

    path = tmp_path / "local.toml"
    path.write_text(
        '[[models]]\nname = "sim:extra"\ncost_per_1k_tokens = 0.001\n'
        '[[models]]\nname = "sim:gpt-4.1"\ninput_cost_per_1k = 0.5\noutput_cost_per_1k = 0.5\n'
        '[aliases]\nfast = "sim:extra"\n',
        encoding="utf-8",
    )
    source = ModelCatalog.default()
    catalog = Orchestrator(catalog=source, simulate=True).catalog
    catalog.watch(path, interval=0)
    assert catalog.get("fast").name == "sim:extra" and catalog.get("sim:gpt-4.1").input_cost_per_1k == 0.5
    source.update("gpt4", quality=9.0)  # the source changes: the derived catalog is rebuilt from it
    assert catalog.get("fast").name == "sim:extra"
    gpt4 = catalog.get("sim:gpt-4.1")
    assert (gpt4.input_cost_per_1k, gpt4.quality) == (0.5, 7.0)  # the file's profile, laid over the source's
    path.write_text('[[models]]\nname = "sim:extra"\ncost_per_1k_tokens = 0.001\n', encoding="utf-8")
    os.utime(path, (1, 1))
    assert "fast" not in catalog  # removed from the file: gone, and gpt4 back to the source's current profile
    assert (catalog.get("gpt4").input_cost_per_1k, catalog.get("gpt4").quality) == (0.002, 9.0)
    assert catalog.get("gpt4").name == "sim:gpt-4.1"


async def test_a_file_watched_by_a_relative_path_is_the_same_file_after_a_chdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `ModelCatalog.from_file("models.toml", watch=True)` re-read "models.toml" relative to the working directory of
    # each check: after `os.chdir` (`%cd` in a notebook) it loaded another folder's models.toml, and an orchestrator
    # using it routed to that file's models
    import json

    from orchestratex import FunctionProvider, Orchestrator

    for folder, model in (("project", "function:ours"), ("elsewhere", "function:theirs")):
        (tmp_path / folder).mkdir()
        write(
            tmp_path / folder / "models.toml",
            f'include_default = false\n[[models]]\nname = "{model}"\ncost_per_1k_tokens = 0.001\n'
            f'[[models]]\nname = "{model}-judge"\ncost_per_1k_tokens = 0.001\n',
        )
    monkeypatch.chdir(tmp_path / "project")
    catalog = ModelCatalog.from_file("models.toml", watch=True, interval=0)
    verdict = json.dumps({"score": 9, "feedback": "ok"})
    orchestrator = Orchestrator(
        providers=[FunctionProvider(lambda r: verdict if r.purpose == "judge" else "42")], catalog=catalog
    )
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert [m.name for m in catalog] == ["function:ours", "function:ours-judge"]
    result = await orchestrator.run("Hello", max_iterations=1, preferred_models=["function:ours"])
    assert result.final_model == "function:ours"
    write(
        tmp_path / "project" / "models.toml",
        'include_default = false\n[[models]]\nname = "function:new"\ncost_per_1k_tokens = 0.001\n',
    )  # (the file itself is still followed)
    assert [m.name for m in catalog] == ["function:new"]
    await orchestrator.aclose()
