"""A user's catalog file: their own models and prices, and the OpenAI-compatible endpoints that serve them.

```toml
include_default = true            # start from the shipped catalog (the default)

[providers.ollama]                # models named "ollama:<model id>"
kind = "openai"                   # the adapter that speaks to it (an `orchestratex.providers` entry point)
base_url = "http://localhost:11434/v1"

[providers.openrouter]
kind = "openai"
base_url = "https://openrouter.ai/api/v1"
api_key_env = "OPENROUTER_API_KEY"

[[models]]
name = "ollama:llama3.2"
input_cost_per_1k = 0             # a local model is free because you say so
output_cost_per_1k = 0

[aliases]
llama = "ollama:llama3.2"
```

A model of a vendor the price source knows (`openai:gpt-4o`) may leave its prices out: they are
filled in from `orchestratex/data/prices.toml`. Any other model without prices is refused with
`UnknownPriceError` naming it and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._catalog_live import read_catalog_file
from ._prices import with_vendor_prices
from .catalog import ModelCatalog
from .exceptions import ConfigurationError, ProviderNotConfigured, UnknownPriceError
from .providers import Provider, load_provider_class

__all__ = ["CATALOG_ENV", "CatalogFile", "ProviderSpec", "load_catalog_file"]

CATALOG_ENV = "ORCHESTRATEX_CATALOG"
"""The variable naming the catalog file that `Orchestrator()`, `orchestratex run`, `serve` and `models` use."""

_SPEC_KEYS = frozenset({"kind", "base_url", "api_key_env", "api"})


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """A named endpoint of a catalog file (`[providers.NAME]`)."""

    name: str
    kind: str
    """The adapter serving it: an installed `orchestratex.providers` entry point (`openai` for any
    OpenAI-compatible server)."""
    base_url: str | None = None
    api_key_env: str | None = None
    """The variable holding its API key; when named, it must be set."""
    options: Mapping[str, Any] = field(default_factory=dict)

    def build(self, env: Mapping[str, str]) -> Provider:
        """The provider, configured from this spec and the key in `env`."""
        api_key = None
        if self.api_key_env:
            api_key = env.get(self.api_key_env) or None
            if api_key is None:
                raise ProviderNotConfigured(
                    f"provider {self.name!r} of the catalog file needs an API key: set {self.api_key_env}",
                    provider=self.name,
                    env_var=self.api_key_env,
                )
        cls = load_provider_class(self.kind)
        return cls.from_config(
            self.name, base_url=self.base_url, api_key=api_key, api_key_env=self.api_key_env, **self.options
        )


@dataclass(frozen=True, slots=True)
class CatalogFile:
    """A loaded catalog file: the catalog it describes and its named endpoints."""

    path: Path
    catalog: ModelCatalog
    providers: dict[str, ProviderSpec]

    def build_providers(self, env: Mapping[str, str] | None = None) -> dict[str, Provider]:
        """A provider for each `[providers.NAME]` endpoint."""
        env = os.environ if env is None else env
        return {name: spec.build(env) for name, spec in self.providers.items()}


def load_catalog_file(path: str | os.PathLike[str]) -> CatalogFile:
    """Read a TOML (or JSON) catalog file; `ConfigurationError` or `UnknownPriceError` say what is wrong."""
    path = Path(path).expanduser()
    data = read_catalog_file(path)
    if not isinstance(data, dict):
        raise ConfigurationError(f"catalog file {str(path)!r} must hold a table")
    source = str(path)
    unknown = set(data) - {"include_default", "providers", "models", "aliases"}
    if unknown:
        raise ConfigurationError(
            f"{source}: unknown key {sorted(unknown)[0]!r} (expected include_default, providers, models, aliases)"
        )
    include_default = data.get("include_default", True)
    if not isinstance(include_default, bool):
        raise ConfigurationError(f"{source}: include_default must be true or false")
    specs = _provider_specs(data.get("providers", {}), source)
    entries = data.get("models", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigurationError(f"{source}: 'models' must be a list of tables ([[models]])")
    models = [with_vendor_prices(e) for e in entries]
    for entry in models:
        if entry.get("cost_per_1k_tokens") is None and (
            entry.get("input_cost_per_1k") is None or entry.get("output_cost_per_1k") is None
        ):
            raise UnknownPriceError(
                f"model {entry.get('name')!r} in {source} has no price and the price source does not know it: "
                "set input_cost_per_1k and output_cost_per_1k (0 for a free local model)"
            )
    catalog = ModelCatalog.default() if include_default else ModelCatalog()
    catalog.merge_mapping({"models": models, "aliases": data.get("aliases", {})}, source=source)
    return CatalogFile(path=path, catalog=catalog, providers=specs)


def _provider_specs(table: object, source: str) -> dict[str, ProviderSpec]:
    if not isinstance(table, dict):
        raise ConfigurationError(f"{source}: 'providers' must be a table of [providers.NAME] tables")
    specs = {}
    for name, spec in table.items():
        where = f"{source}: providers.{name}"
        if not isinstance(spec, dict):
            raise ConfigurationError(f"{where} must be a table")
        if ":" in name or not name:
            raise ConfigurationError(f"{where}: a provider name must be non-empty, without ':'")
        kind = spec.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ConfigurationError(
                f'{where}: set kind, the adapter serving it (kind = "openai" for any OpenAI-compatible server)'
            )
        for key in ("base_url", "api_key_env"):
            if spec.get(key) is not None and not isinstance(spec[key], str):
                raise ConfigurationError(f"{where}: {key} must be a string")
        extra = set(spec) - _SPEC_KEYS
        if extra:
            raise ConfigurationError(
                f"{where}: unknown key {sorted(extra)[0]!r} (expected {', '.join(sorted(_SPEC_KEYS))})"
            )
        options = {"api": spec["api"]} if "api" in spec else {}
        specs[name] = ProviderSpec(
            name=name, kind=kind, base_url=spec.get("base_url"), api_key_env=spec.get("api_key_env"), options=options
        )
    return specs
