"""Model profiles and the catalog of models an orchestrator may use.

The default catalog ships as a data file (`orchestratex/data/catalog.toml`) with the current list
prices of OpenAI, Anthropic and Google models. Extend or override it from code
(`catalog.add(...)`), or from a TOML/JSON file (`ModelCatalog.default().merge_file("models.toml")`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .exceptions import ConfigurationError, UnknownModelError, UnknownPriceError
from .usage import Usage

__all__ = ["ModelCatalog", "ModelProfile", "ModelStatus"]

ModelStatus = Literal["active", "deprecated", "disabled"]

_PLACES = Decimal("1e-12")
_THOUSAND = Decimal(1000)


class ModelProfile(BaseModel):
    """What OrchestrateX knows about one model: who serves it, what it costs, what it is good at."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str
    """Unique name, `provider:model` (e.g. `openai:gpt-4.1`)."""
    provider: str = ""
    """The provider that serves it (the part of `name` before the colon when not given)."""
    version: str = ""
    """The provider's model id sent in API calls (the part of `name` after the colon when not given)."""
    specialties: tuple[str, ...] = ()
    """Domains the model is known to be strong in (see `orchestratex.domains.DOMAINS`)."""
    input_cost_per_1k: float | None = Field(default=None, ge=0)
    """US dollars per 1,000 input tokens."""
    output_cost_per_1k: float | None = Field(default=None, ge=0)
    """US dollars per 1,000 output tokens (reasoning tokens included)."""
    cached_input_cost_per_1k: float | None = Field(default=None, ge=0)
    """US dollars per 1,000 input tokens served from the provider's cache (defaults to the input price)."""
    cost_per_1k_tokens: float | None = Field(default=None, ge=0)
    """A single blended price, as the spec's model document shows it: the mean of input and output prices."""
    context_window: int = Field(default=128_000, gt=0)
    """Maximum tokens of prompt plus answer."""
    max_output_tokens: int = Field(default=4096, gt=0)
    """Maximum tokens the model may generate in one call."""
    quality: float = Field(default=7.0, ge=0, le=10)
    """Prior expected judge score (0–10) before the router has observed the model."""
    status: ModelStatus = "active"
    """`disabled` models are never routed to; `deprecated` ones are, with a warning in `orchestratex models`."""
    aliases: tuple[str, ...] = ()
    """Other names that resolve to this model (e.g. `gpt4`)."""

    @model_validator(mode="before")
    @classmethod
    def _fill_derived(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        name = data.get("name", "")
        if ":" in name:
            provider, _, model = name.partition(":")
            data.setdefault("provider", provider)
            data.setdefault("version", model)
        blended = data.get("cost_per_1k_tokens")
        if blended is not None:
            data.setdefault("input_cost_per_1k", blended)
            data.setdefault("output_cost_per_1k", blended)
        elif data.get("input_cost_per_1k") is not None and data.get("output_cost_per_1k") is not None:
            mean = (Decimal(repr(data["input_cost_per_1k"])) + Decimal(repr(data["output_cost_per_1k"]))) / 2
            data["cost_per_1k_tokens"] = float(mean.quantize(_PLACES))
        return data

    @model_validator(mode="after")
    def _check(self) -> ModelProfile:
        if not self.provider or not self.version:
            raise ValueError(f"model {self.name!r}: name it 'provider:model' or give provider and version")
        return self

    @property
    def priced(self) -> bool:
        """Whether input and output prices are both known."""
        return self.input_cost_per_1k is not None and self.output_cost_per_1k is not None

    @cached_property
    def _prices(self) -> tuple[Decimal, Decimal, Decimal]:
        """Input, output and cached-input prices as decimals (computed once per profile)."""
        if self.input_cost_per_1k is None or self.output_cost_per_1k is None:
            raise UnknownPriceError(
                f"model {self.name!r} has no price: set input_cost_per_1k and output_cost_per_1k "
                "(0 only if it really is free)"
            )
        cached = self.cached_input_cost_per_1k
        return (
            Decimal(repr(self.input_cost_per_1k)),
            Decimal(repr(self.output_cost_per_1k)),
            Decimal(repr(cached if cached is not None else self.input_cost_per_1k)),
        )

    def cost(self, usage: Usage) -> float:
        """The exact US-dollar cost of `usage` at this model's prices (to 1e-12 $)."""
        inp, out, cached = self._prices
        fresh = max(usage.input_tokens - usage.cached_input_tokens, 0)
        total = (fresh * inp + usage.cached_input_tokens * cached + usage.output_tokens * out) / _THOUSAND
        return float(total.quantize(_PLACES))

    def worst_case_cost(self, input_tokens: int, max_output_tokens: int) -> float:
        """The most a call can cost with `input_tokens` in and at most `max_output_tokens` out."""
        inp, out, _ = self._prices
        total = (input_tokens * inp + max_output_tokens * out) / _THOUSAND
        return float(total.quantize(_PLACES))


class ModelCatalog:
    """The models an orchestrator may route to, by name and alias."""

    def __init__(self, models: Iterable[ModelProfile] = (), *, aliases: Mapping[str, str] | None = None) -> None:
        self._models: dict[str, ModelProfile] = {}
        self._aliases: dict[str, str] = {}
        for model in models:
            self.add(model)
        for alias, target in (aliases or {}).items():
            self.alias(alias, target)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def default(cls) -> ModelCatalog:
        """The catalog shipped with OrchestrateX (current OpenAI, Anthropic and Google models)."""
        import tomllib
        from importlib import resources

        from ._prices import with_vendor_prices  # prices from the maintained source (data/prices.toml)

        text = resources.files("orchestratex").joinpath("data/catalog.toml").read_text(encoding="utf-8")
        data = tomllib.loads(text)
        data["models"] = [with_vendor_prices(m) for m in data["models"]]
        return cls.from_mapping(data, source="the default catalog")

    @classmethod
    def from_file(cls, path: str | Path) -> ModelCatalog:
        """A catalog read from a TOML or JSON file with `[[models]]` entries and an optional `[aliases]` table."""
        return cls().merge_file(path)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "catalog data") -> ModelCatalog:
        return cls().merge_mapping(data, source=source)

    def merge_file(self, path: str | Path) -> ModelCatalog:
        """Add or override models (and aliases) from a TOML or JSON file; returns `self`."""
        path = Path(path)
        return self.merge_mapping(read_catalog_data(path), source=str(path))

    def merge_mapping(self, data: Mapping[str, Any], *, source: str = "catalog data") -> ModelCatalog:
        """Add or override models (and aliases) from parsed data; returns `self`."""
        entries = data.get("models", [])
        if not isinstance(entries, list):
            raise ConfigurationError(f"{source}: 'models' must be a list of tables")
        for i, entry in enumerate(entries):
            try:
                self.add(ModelProfile.model_validate(entry), replace=True)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "entry"
                raise ConfigurationError(f"{source}: models[{i}] {where}: {first['msg']}") from exc
        for alias, target in dict(data.get("aliases", {})).items():
            self.alias(alias, target)
        return self

    def add(self, model: ModelProfile, *, replace: bool = False) -> ModelProfile:
        """Add `model`; with `replace=True` an existing model of the same name is overridden."""
        if model.name in self._models and not replace:
            raise ConfigurationError(f"model {model.name!r} is already in the catalog (pass replace=True)")
        self._models[model.name] = model
        for alias in model.aliases:
            self._aliases[alias] = model.name
        return model

    def alias(self, alias: str, target: str) -> None:
        """Make `alias` resolve to the model `target`."""
        self._aliases[alias] = self.get(target).name

    def remove(self, name: str) -> None:
        model = self.get(name)
        del self._models[model.name]
        self._aliases = {a: t for a, t in self._aliases.items() if t != model.name}

    # -- lookup -------------------------------------------------------------------------------
    def get(self, name: str) -> ModelProfile:
        """The model called `name` (full name, alias, or an unambiguous bare model id)."""
        model = self._models.get(name) or self._models.get(self._aliases.get(name, ""))
        if model is not None:
            return model
        matches = [m for m in self._models.values() if m.version == name]
        if len(matches) == 1:
            return matches[0]
        raise UnknownModelError(name, list(self._models))

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.get(name)
        except UnknownModelError:
            return False
        return True

    def __iter__(self) -> Iterator[ModelProfile]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    @property
    def aliases(self) -> dict[str, str]:
        return dict(self._aliases)

    def providers(self) -> list[str]:
        """The providers the catalog's models belong to, in catalog order."""
        return list(dict.fromkeys(m.provider for m in self._models.values()))

    def with_only(self, providers: Iterable[str]) -> ModelCatalog:
        """A copy keeping only the models of `providers` (and the aliases that still resolve)."""
        keep = set(providers)
        models = [m for m in self._models.values() if m.provider in keep]
        names = {m.name for m in models}
        return ModelCatalog(models, aliases={a: t for a, t in self._aliases.items() if t in names})

    def simulated(self) -> ModelCatalog:
        """A copy where every model is served by the offline simulator as `sim:<model>`.

        Prices, windows and priors are kept, and the real names and aliases resolve to the
        simulated models, so code written against real models runs unchanged offline.
        """
        renamed: dict[str, str] = {}
        models = []
        for m in self._models.values():
            if m.provider == "sim":
                models.append(m)
                continue
            sim_name = f"sim:{m.version}"
            renamed[m.name] = sim_name
            models.append(m.model_copy(update={"name": sim_name, "provider": "sim", "aliases": (m.name, *m.aliases)}))
        aliases = {a: renamed.get(t, t) for a, t in self._aliases.items()}
        return ModelCatalog(models, aliases=aliases)

    def copy(self) -> ModelCatalog:
        return ModelCatalog(self._models.values(), aliases=self._aliases)


def read_catalog_data(path: Path) -> Any:
    """The parsed content of a TOML (or, by its `.json` suffix, JSON) catalog file;
    `ConfigurationError` when it cannot be read or parsed."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read catalog file {str(path)!r}: {exc.strerror}") from exc
    import tomllib

    kind = "JSON" if path.suffix == ".json" else "TOML"
    try:
        return json.loads(raw) if kind == "JSON" else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"catalog file {str(path)!r} is not valid {kind}: {exc}") from exc
