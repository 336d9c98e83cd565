"""Finding providers: the `orchestratex.providers` entry points, and which of them are configured."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from ..exceptions import ProviderNotConfigured
from ._base import Provider
from ._support import env_timeout, env_value

__all__ = [
    "install_hint",
    "key_hint",
    "load_provider_class",
    "provider_names",
    "providers_from_env",
    "serves_named_endpoints",
]

_INSTALL_HINT = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "ollama": "openai",
    "vllm": "openai",
    "lmstudio": "openai",
    "openrouter": "openai",
    "mongodb": "mongodb",  # (a store, not a provider: `store_from_url` names it too)
}
"""Which extra installs the adapter serving each provider (the OpenAI adapter serves the compatible ones)."""

KNOWN_ENV_VARS: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "ollama": ("OLLAMA_BASE_URL",),
    "vllm": ("VLLM_BASE_URL",),
    "lmstudio": ("LMSTUDIO_BASE_URL",),
    "openrouter": ("OPENROUTER_API_KEY",),
}
"""The variables that configure our own adapters. Checked before loading an adapter, because loading
one imports its vendor SDK (a second or more); other providers are loaded to ask them."""


def install_hint(provider: str) -> str | None:
    """The command that installs the adapter serving `provider`: from this checkout when OrchestrateX runs from
    one (its adapters are directories beside it, `adapters/<name>`), else the package's extra; None if unknown."""
    extra = _INSTALL_HINT.get(provider)
    if extra is None:
        return None
    checkout = Path(__file__).resolve().parents[3] / "adapters" / extra
    if (checkout / "pyproject.toml").is_file():
        return f"pip install -e {checkout}"
    return f"pip install 'orchestratex[{extra}]'"


def added_endpoint(provider: str) -> str | None:
    """The path the SDK adds to `provider`'s base URL when its adapter is the OpenAI one (`/chat/completions`, which
    the base URL must not name: `base_url_problem`), else None."""
    return "/chat/completions" if _INSTALL_HINT.get(provider) == "openai" else None


def key_hint(provider: str) -> str:
    """What to set to configure `provider`, e.g. `GEMINI_API_KEY or GOOGLE_API_KEY`."""
    return " or ".join(KNOWN_ENV_VARS.get(provider, (f"{provider.upper()}_API_KEY",)))


@lru_cache(maxsize=1)
def _scan(_paths: tuple[tuple[str, int], ...]) -> dict[str, object]:
    from importlib.metadata import entry_points  # imported here: scanning distributions is slow

    return {ep.name: ep for ep in entry_points(group="orchestratex.providers")}


def _entry_points() -> dict[str, object]:
    """The installed providers' entry points, scanned again only once a directory of `sys.path` has changed (a
    `%pip install` in a notebook's kernel adds a distribution to site-packages: `Orchestrator()` went on not seeing
    the adapter, and simulated, until the kernel restarted). A few `stat` calls; the slow scan is remembered."""
    stamps = []
    for entry in sys.path:
        try:
            stamps.append((entry, os.stat(entry or ".").st_mtime_ns))
        except (OSError, TypeError, ValueError):  # (a path that does not exist, yet or any more, or is not one)
            continue
    return _scan(tuple(stamps))


def provider_names() -> list[str]:
    """Names of every installed provider (built-ins included)."""
    return sorted(_entry_points())


def load_provider_class(name: str) -> type[Provider]:
    """The provider class registered as `name`, or `ProviderNotConfigured` saying what to install (or reinstall, when
    the adapter is installed but fails to import)."""
    ep = _entry_points().get(name)
    if ep is None:  # installed since the last scan (`%pip install` in a notebook's kernel, say)?
        _scan.cache_clear()
        ep = _entry_points().get(name)
    if ep is None:
        install = install_hint(name)
        hint = f": {install}" if install else ""
        raise ProviderNotConfigured(f"no provider {name!r} is installed{hint}", provider=name)
    try:
        cls = ep.load()  # type: ignore[attr-defined]
    except ImportError as exc:  # installed, but what it needs is missing or broken (a vendor SDK, say)
        install = install_hint(name)
        hint = f"; reinstall it: {install}" if install else ""
        raise ProviderNotConfigured(
            f"provider {name!r} is installed but could not be loaded ({type(exc).__name__}: {exc}){hint}",
            provider=name,
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ProviderNotConfigured(f"entry point {name!r} does not name a Provider subclass", provider=name)
    return cls


def serves_named_endpoints(cls: type[Provider]) -> bool:
    """Whether `cls` can serve a catalog file's named endpoint (`[providers.NAME]`): it implements `from_config`."""
    return getattr(cls.from_config, "__func__", None) is not getattr(Provider.from_config, "__func__", None)


def providers_from_env(names: list[str], env: Mapping[str, str] | None = None) -> dict[str, Provider]:
    """Instantiate each named provider that is installed and configured in `env` (default: os.environ).

    `ORCHESTRATEX_PROVIDER_TIMEOUT_S`, the timeout of the providers made here, is checked even when none is
    configured yet: `orchestratex serve` with `=abc` and no key served the simulator without a word, and stopped
    only once a key was added (docs/operate.md: a bad variable stops the program at its start)."""
    env = os.environ if env is None else env
    env_timeout(env)  # (a `ConfigurationError` naming the variable)
    found: dict[str, Provider] = {}
    for name in names:
        if name not in _entry_points():
            continue
        known = KNOWN_ENV_VARS.get(name)
        if known is not None and not any(env_value(env, var) for var in known):
            continue
        cls = load_provider_class(name)
        if cls.simulated or not cls.is_configured(env):
            continue
        found[name] = cls.from_env(env)
    return found
