"""Finding providers through entry points, and choosing real providers or the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestratex import Orchestrator
from orchestratex.exceptions import ProviderNotConfigured
from orchestratex.providers import _registry, load_provider_class, provider_names, providers_from_env
from orchestratex.providers._registry import KNOWN_ENV_VARS


def test_builtin_simulator_is_registered_like_a_third_party() -> None:
    assert "sim" in provider_names()
    assert load_provider_class("sim").simulated


@pytest.mark.parametrize("name", sorted(KNOWN_ENV_VARS))
def test_known_env_vars_match_the_installed_adapters(name: str) -> None:
    if name not in provider_names():
        pytest.skip(f"adapter {name!r} is not installed")
    assert load_provider_class(name).env_vars == KNOWN_ENV_VARS[name]


def test_missing_adapter_says_what_to_install() -> None:
    with pytest.raises(ProviderNotConfigured, match="no provider 'nope' is installed"):
        load_provider_class("nope")


def test_an_adapter_that_fails_to_import_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An adapter installed (after the process first looked) beside a broken or missing vendor SDK: it is found, and
    loading it is a clear `ProviderNotConfigured`, not a bare ImportError."""
    assert "broken" not in provider_names()  # the installed adapters are scanned once, then remembered
    dist = tmp_path / "broken_adapter-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-adapter\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[orchestratex.providers]\nbroken = broken_adapter:Provider\n")
    (tmp_path / "broken_adapter.py").write_text("import vendor_sdk_that_is_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(ProviderNotConfigured, match="'broken' is installed but could not be loaded") as info:
            load_provider_class("broken")  # not among those remembered: scanned again
        assert "vendor_sdk_that_is_not_installed" in str(info.value)
        assert "broken" in provider_names()
        with pytest.raises(ProviderNotConfigured, match="could not be loaded"):  # as `Orchestrator()` finds providers
            providers_from_env(["broken"], env={})
    finally:
        monkeypatch.undo()
        _registry._scan.cache_clear()


def test_only_configured_providers_are_built() -> None:
    assert providers_from_env(["openai", "anthropic", "gemini"], env={}) == {}
    if "anthropic" in provider_names():
        found = providers_from_env(["openai", "anthropic"], env={"ANTHROPIC_API_KEY": "sk-test"})
        assert list(found) == ["anthropic"]


def test_a_key_switches_from_the_simulator_to_the_real_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    if "anthropic" not in provider_names():
        pytest.skip("the anthropic adapter is not installed")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    orch = Orchestrator()
    assert not orch.simulated
    assert set(orch.providers) == {"anthropic"}
    assert {m.provider for m in orch.catalog} == {"anthropic"}


def test_simulate_false_without_keys_names_the_variables() -> None:
    with pytest.raises(ProviderNotConfigured, match="OPENAI_API_KEY"):
        Orchestrator(simulate=False)


def test_the_install_hint_names_this_checkouts_adapter_or_the_packages_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """From a checkout the adapters are directories beside the library (not on a package index): the hint
    installs that directory. Installed from an index, it names the extra."""
    from orchestratex.providers import _registry

    checkout = Path(_registry.__file__).resolve().parents[3]
    assert _registry.install_hint("ollama") == f"pip install -e {checkout / 'adapters' / 'openai'}"
    monkeypatch.setattr(_registry, "__file__", str(tmp_path / "site-packages/orchestratex/providers/_registry.py"))
    assert _registry.install_hint("anthropic") == "pip install 'orchestratex[anthropic]'"
    assert _registry.install_hint("acme") is None
