"""Model profiles and the catalog of models an orchestrator may use.

The default catalog ships as a data file (`orchestratex/data/catalog.toml`) with the current list
prices of OpenAI, Anthropic and Google models. Extend or override it from code
(`catalog.add(...)`), or from a TOML/JSON file (`ModelCatalog.default().merge_file("models.toml")`).
A catalog is live: its changes (and a watched file's) reach running orchestrators at their next decision.
"""

from __future__ import annotations

import math
import numbers
import operator
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ._catalog_live import Derivation, WatchedFile
from .domains import check_specialty
from .exceptions import ConfigurationError, UnknownModelError, UnknownPriceError, UserError
from .usage import PICO, Usage

if TYPE_CHECKING:
    from ._catalog_file import CatalogContent, ProviderSpec

__all__ = ["ModelCatalog", "ModelProfile", "ModelStatus"]

ModelStatus = Literal["active", "deprecated", "disabled"]

_PLACES = Decimal("1e-12")
_THOUSAND = Decimal(1000)
_PICO_PER_1K = Decimal(PICO) / _THOUSAND
_SNAPSHOT = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$")
"""The suffix of a vendor's dated snapshot (`gpt-4o-2024-08-06`, `claude-haiku-4-5-20251001`) or `-latest` name."""


def _check_unspaced(name: str, provider: str, version: str) -> None:
    """`UserError` for a model name, provider or id with white space around it (or around the name's colon): it would
    be sent as it is (`"openai:gpt-4o "` from a file went to the vendor as "gpt-4o ", a 404), and a provider `" openai"`
    is one no one serves, so the model silently left the catalog."""
    parts = name.split(":", 1)
    if any(part != part.strip() for part in parts):
        fixed = ":".join(part.strip() for part in parts)
        raise UserError(f"model {name!r}: its name has white space around it or around its ':': write {fixed!r}")
    for field, value in (("provider", provider), ("version", version)):
        if value != value.strip():
            raise UserError(f"model {name!r}: its {field} {value!r} has white space around it: write {value.strip()!r}")


def _check_alias(alias: object) -> str:
    """`alias` when it can name a model: a non-empty string without white space around it. An empty alias made every
    empty name (a blank entry of `preferred_models`) resolve to its model, and one with spaces was never matched."""
    if not isinstance(alias, str) or not alias or alias != alias.strip():
        raise ConfigurationError(
            f"alias {alias!r}: an alias is a non-empty string without white space around it (e.g. 'fast')"
        )
    return alias


def _as_price(value: object) -> object:
    """A price given as another kind of number than `int` or `float` (numpy's `np.int64(0)` or `np.float32`, a
    `Fraction`, a `Decimal`) as the `float` the price fields make of it; anything else as it is. (A blended
    `cost_per_1k_tokens` of such a type was dropped in silence: the model was left unpriced, and
    `catalog.update(name, cost_per_1k_tokens=np.int64(0))` unpriced a priced model.)"""
    if type(value) in (int, float) or isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal):
        return value
    return float(value)


_MOST_PER_1K = 1_000_000
"""The most a price per 1,000 tokens may be, in US dollars: far past any model's, it refuses a slip of the exponent
(`1e20`), whose blended price could not even be worked out (a `decimal.InvalidOperation` traceback)."""


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
    """Domains the model is known to be strong in, among `orchestratex.domains.DOMAINS`, in any case (kept lowercase,
    once each: `"CODING"` is `coding`); any other is refused, naming the domain meant when it is misspelt."""
    input_cost_per_1k: float | None = Field(default=None, ge=0, le=_MOST_PER_1K, allow_inf_nan=False, strict=True)
    """US dollars per 1,000 input tokens (a number: text such as `"0.001"` is refused, never read as no price)."""
    output_cost_per_1k: float | None = Field(default=None, ge=0, le=_MOST_PER_1K, allow_inf_nan=False, strict=True)
    """US dollars per 1,000 output tokens (reasoning tokens included)."""
    cost_per_1k_tokens: float | None = Field(default=None, ge=0, le=_MOST_PER_1K, allow_inf_nan=False, strict=True)
    """A single blended price, as the spec's model document shows it: always the mean of the input and
    output prices, which are the source of truth (derived on validation; given alone, it sets both;
    given with both, it must be their mean; given with only one of them, it is refused)."""
    cached_input_cost_per_1k: float | None = Field(
        default=None, ge=0, le=_MOST_PER_1K, allow_inf_nan=False, strict=True
    )
    """US dollars per 1,000 input tokens served from the provider's cache (defaults to the input price)."""
    context_window: int = Field(default=128_000, gt=0)
    """Maximum tokens of prompt plus answer."""
    max_output_tokens: int = Field(default=4096, gt=0)
    """Maximum tokens the model may generate in one call."""
    quality: float = Field(default=7.0, ge=0, le=10)
    """Prior expected judge score (0–10) before the router has observed the model."""
    status: ModelStatus = "active"
    """`disabled` models are never routed to; `deprecated` ones are, with a warning in `orchestratex models`."""
    judge_only: bool = Field(default=False, strict=True)
    """Serves only as a judge: never a routing candidate (see `Orchestrator(judges=...)`); true or false (a
    string such as `"yes"` is refused, never read as true)."""
    aliases: tuple[str, ...] = ()
    """Other names that resolve to this model (e.g. `gpt4`)."""

    @field_validator("specialties")
    @classmethod
    def _known_domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(check_specialty(d) for d in value))

    @field_validator("aliases")
    @classmethod
    def _usable_aliases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for alias in value:
            _check_alias(alias)
        return value

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
        blended = _as_price(data.pop("cost_per_1k_tokens", None))
        if blended is None or not isinstance(blended, int | float) or isinstance(blended, bool):
            if blended is not None:
                data["cost_per_1k_tokens"] = blended  # let field validation report it
            return data
        inp, out = _as_price(data.get("input_cost_per_1k")), _as_price(data.get("output_cost_per_1k"))
        if inp is not None and out is not None:  # given with both prices (a dumped profile): it must agree
            if isinstance(inp, int | float) and isinstance(out, int | float) and abs(_blend(inp, out) - blended) > 1e-9:
                raise UserError(
                    f"cost_per_1k_tokens={blended!r} disagrees with the input and output prices ({inp!r}, {out!r}):"
                    " it is their mean, give the two prices only"
                )
            return data
        if inp is not None or out is not None:  # one price and a mean: which other price was meant is a guess
            given = "input_cost_per_1k" if inp is not None else "output_cost_per_1k"
            raise UserError(
                f"cost_per_1k_tokens={blended!r} is given with {given} only: give input_cost_per_1k and"
                " output_cost_per_1k, or cost_per_1k_tokens alone (it then sets both)"
            )
        data.setdefault("input_cost_per_1k", blended)
        data.setdefault("output_cost_per_1k", blended)
        return data

    @model_validator(mode="after")
    def _check(self) -> ModelProfile:
        if not self.provider or not self.version:
            raise UserError(f"model {self.name!r}: name it 'provider:model' or give provider and version")
        _check_unspaced(self.name, self.provider, self.version)
        blended = None
        if self.input_cost_per_1k is not None and self.output_cost_per_1k is not None:
            blended = _blend(self.input_cost_per_1k, self.output_cost_per_1k)
        object.__setattr__(self, "cost_per_1k_tokens", blended)
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> ModelProfile:
        """A copy; with `update`, validated again, so derived figures (the blended price) follow new prices, and
        a new input price without a cached one drops the old cached price (it is then the input price)."""
        if not update:
            return super().model_copy(deep=deep)
        data = self.model_dump()
        blended_alone = "cost_per_1k_tokens" in update and not {"input_cost_per_1k", "output_cost_per_1k"} & set(update)
        if blended_alone:
            data.pop("input_cost_per_1k")
            data.pop("output_cost_per_1k")
        if "cost_per_1k_tokens" not in update:
            data.pop("cost_per_1k_tokens")
        new_input = blended_alone or update.get("input_cost_per_1k", self.input_cost_per_1k) != self.input_cost_per_1k
        if new_input and "cached_input_cost_per_1k" not in update:  # the old discount was on the old input price
            data.pop("cached_input_cost_per_1k")
        return type(self).model_validate({**data, **update})

    @property
    def priced(self) -> bool:
        """Whether input and output prices are both known."""
        return self.input_cost_per_1k is not None and self.output_cost_per_1k is not None

    @property
    def _prices(self) -> tuple[Decimal, Decimal, Decimal]:
        """Input, output and cached-input prices as decimals, read from the fields on every use (so a copy
        with other prices never reuses stale ones)."""
        if self.input_cost_per_1k is None or self.output_cost_per_1k is None:
            raise self._unpriced()
        return _decimal_prices(self.input_cost_per_1k, self.output_cost_per_1k, self.cached_input_cost_per_1k)

    def _pico_prices(self) -> tuple[int, int, int] | None:
        """Input, output and cached-input prices per token in whole pico-dollars (None when a price per 1,000
        tokens has more than 9 decimals); raises `UnknownPriceError` for an unpriced model."""
        inp, out = self.input_cost_per_1k, self.output_cost_per_1k
        if inp is None or out is None:
            raise self._unpriced()
        return _pico_prices(inp, out, self.cached_input_cost_per_1k)

    def _unpriced(self) -> UnknownPriceError:
        return UnknownPriceError(
            f"model {self.name!r} has no price: set input_cost_per_1k and output_cost_per_1k "
            "(0 only if it really is free)"
        )

    def cost(self, usage: Usage) -> float:
        """The exact US-dollar cost of `usage` at this model's prices (to 1e-12 $)."""
        fresh = max(usage.input_tokens - usage.cached_input_tokens, 0)
        per_token = self._pico_prices()
        if per_token is not None:  # integer pico-dollars: exact, no rounding needed
            p_in, p_out, p_cached = per_token
            return (fresh * p_in + usage.cached_input_tokens * p_cached + usage.output_tokens * p_out) / PICO
        inp, out, cached = self._prices
        total = (fresh * inp + usage.cached_input_tokens * cached + usage.output_tokens * out) / _THOUSAND
        return float(total.quantize(_PLACES))

    def worst_case_cost(self, input_tokens: int, max_output_tokens: int) -> float:
        """The most a call can cost with `input_tokens` in and at most `max_output_tokens` out (whole numbers >= 0:
        `worst_case_cost(-5, 100)` gave less than the output alone costs, a bound below what the call can cost)."""
        if (
            type(input_tokens) is not int
            or type(max_output_tokens) is not int
            or min(input_tokens, max_output_tokens) < 0
        ):
            input_tokens, max_output_tokens = _token_counts(input_tokens, max_output_tokens)
        per_token = self._pico_prices()
        if per_token is not None:
            return (input_tokens * per_token[0] + max_output_tokens * per_token[1]) / PICO
        inp, out, _ = self._prices
        total = (input_tokens * inp + max_output_tokens * out) / _THOUSAND
        return float(total.quantize(_PLACES))


def _not_a_provider(name: object, known: list[str]) -> str:
    """What `with_only` says of `name`, no provider of a catalog whose providers are `known`: the one meant, when it
    is one in another letter case or one typo away."""
    listed = ", ".join(known) or "none: it has no models"
    if not isinstance(name, str):
        kind = type(name).__name__
        return f"with_only takes provider names (strings), not {kind} {name!r:.60} (its providers: {listed})"
    import difflib  # (only for a name the catalog does not know)

    folded = {k.casefold(): k for k in known}
    meant = folded.get(name.strip().casefold()) or next(iter(difflib.get_close_matches(name, known, n=1)), None)
    hint = f": did you mean {meant!r}?" if meant else ""
    return f"{name!r} is no provider of this catalog (its providers: {listed}){hint}"


def _token_counts(*counts: object) -> tuple[int, int]:
    """`worst_case_cost`'s token counts as ints (numpy's integers too; a fraction, as a provider's own estimate may
    give, rounded up: the bound stays a bound); `UserError` for one that is negative, not finite, a bool or no
    number."""
    found: list[int] = []
    for field, count in zip(("input_tokens", "max_output_tokens"), counts, strict=True):
        tokens = -1
        if isinstance(count, float) and math.isfinite(count) and count >= 0:
            tokens = math.ceil(count)
        elif not isinstance(count, bool | float):
            try:
                tokens = operator.index(count)  # type: ignore[arg-type]
            except TypeError:
                pass
        if tokens < 0:
            raise UserError(f"{field} must be a whole number of tokens >= 0, not {count!r:.60}")
        found.append(tokens)
    return found[0], found[1]


def model_identity(model: ModelProfile) -> str:
    """What tells one model from another whoever serves it: its model id without a vendor's prefix, in any letter case.
    `laptop:llama3.2` and `gpu:llama3.2` are one model behind two endpoints, and so are `openai:gpt-4o` and
    `openrouter:openai/gpt-4o`: neither judges the other's answers (a model never judges its own)."""
    return _identity(model.version or model.name)


@lru_cache(maxsize=4096)
def _identity(model_id: str) -> str:
    return model_id.rpartition("/")[2].casefold()


@lru_cache(maxsize=4096)
def _decimal_prices(inp: float, out: float, cached: float | None) -> tuple[Decimal, Decimal, Decimal]:
    return Decimal(repr(inp)), Decimal(repr(out)), Decimal(repr(cached if cached is not None else inp))


@lru_cache(maxsize=4096)
def _pico_prices(inp: float, out: float, cached: float | None) -> tuple[int, int, int] | None:
    """Per-token prices in whole pico-dollars (each price per 1,000 tokens with at most 9 decimals), else None."""
    per_token = [price * _PICO_PER_1K for price in _decimal_prices(inp, out, cached)]
    if any(p != p.to_integral_value() for p in per_token):
        return None
    return int(per_token[0]), int(per_token[1]), int(per_token[2])


@lru_cache(maxsize=4096)  # runs whenever a profile is validated, also nested (`GenerationRequest(model=...)`)
def _blend(inp: float, out: float) -> float:
    return float(((Decimal(repr(inp)) + Decimal(repr(out))) / 2).quantize(_PLACES))


class ModelCatalog:
    """The models an orchestrator may route to, by name and alias.

    A catalog is live: `update`, `set_status`, `add` and `remove` take effect on the next decision of
    every orchestrator using it (each change bumps `version`, which invalidates their caches); a file
    loaded with `watch` (or `from_file(path, watch=True)`) is re-read when it changes. Catalogs derived
    with `with_only` or `simulated` follow their source's changes.
    """

    def __init__(self, models: Iterable[ModelProfile] = (), *, aliases: Mapping[str, str] | None = None) -> None:
        self._models: dict[str, ModelProfile] = {}
        self._aliases: dict[str, str] = {}
        self._moved: dict[str, str] = {}
        """The model each alias `alias()` moved named before (it names it again once the model it was moved to is
        removed)."""
        self._version = 0
        self._files: list[WatchedFile] = []
        self._derivation: Derivation | None = None
        self._endpoints: dict[str, ProviderSpec] = {}
        """The named endpoints (`[providers.NAME]`) of the catalog files merged into it."""
        self._local: list[Callable[[], object]] = []
        """Changes made to a derived catalog itself, replayed each time it is rebuilt from its source."""
        if isinstance(models, str | Path):
            raise UserError(
                f"ModelCatalog({str(models)!r}) takes ModelProfile objects: read a catalog file with"
                " ModelCatalog.from_file(path)"
            )
        if isinstance(models, ModelProfile):  # (iterated, a pydantic model gives its (field, value) pairs)
            raise UserError(
                f"ModelCatalog takes a list of ModelProfile objects, not one ({models.name!r}): write"
                " ModelCatalog([profile])"
            )
        if isinstance(models, Mapping) or not isinstance(models, Iterable):  # (a dict was iterated by its keys: "a
            raise UserError(  # catalog holds ModelProfile objects, not str: read a catalog file …"; None a TypeError)
                f"ModelCatalog takes a list of ModelProfile objects, not {type(models).__name__}"
                + (
                    ": for catalog data ({'models': [...], 'aliases': {...}}) use ModelCatalog.from_mapping(data)"
                    if isinstance(models, Mapping)
                    else ""
                )
            )
        if aliases is not None and not isinstance(aliases, Mapping):  # ("'list' object has no attribute 'items'")
            raise UserError(
                "ModelCatalog aliases must be a mapping of alias to model name "
                f'({{"fast": "openai:gpt-4.1-mini"}}), not {type(aliases).__name__}'
            )
        settled = frozenset(aliases or ())  # (aliases the mapping points: models given it may share them, as a copy's)
        for model in models:
            self._add(model, replace=False, settled=settled)
        for alias, target in (aliases or {}).items():
            self.alias(alias, target)
        self._local.clear()

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def default(cls) -> ModelCatalog:
        """The catalog shipped with OrchestrateX (current OpenAI, Anthropic and Google models)."""
        import tomllib
        from importlib import resources

        text = resources.files("orchestratex").joinpath("data/catalog.toml").read_text(encoding="utf-8")
        # (entries without prices get the maintained source's: data/prices.toml)
        return cls.from_mapping(tomllib.loads(text), source="the default catalog")

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, watch: bool = False, interval: float = 1.0) -> ModelCatalog:
        """The catalog a TOML or JSON catalog file describes, read by the same rules as `Orchestrator(catalog=path)`:
        the shipped catalog with the file's models and aliases over it (only the file's with `include_default =
        false`), and its named endpoints (`[providers.NAME]`) for the orchestrator given this catalog. With
        `watch=True` the file is re-read whenever it changes (see `watch`)."""
        from ._catalog_file import read_catalog

        path = _file_path(path)
        content = read_catalog(path)
        catalog = cls.default() if content.include_default else cls()
        if watch:
            return catalog._watch(path, interval, content)
        catalog._merge(content)
        return catalog

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "catalog data") -> ModelCatalog:
        """A catalog of parsed data: `models` (a list of model tables) and `aliases`."""
        return cls().merge_mapping(data, source=source)

    def merge_file(self, path: str | os.PathLike[str]) -> ModelCatalog:
        """Add or override models (and aliases, and named endpoints) from a TOML or JSON catalog file, once;
        returns `self`. The file is checked as a whole first: a bad file changes nothing."""
        from ._catalog_file import read_catalog

        content = read_catalog(_file_path(path))
        content.refuse_exclusion()
        self._merge(content)
        return self

    def watch(self, path: str | os.PathLike[str], *, interval: float = 1.0) -> ModelCatalog:
        """Merge a TOML or JSON catalog file now, and again whenever it changes; returns `self`.

        The file's modification time and size are checked at most every `interval` seconds, when the
        catalog is read (an orchestrator reads it before each routing decision), so a running program
        or server picks up new prices, statuses and models with no restart. A model (or alias) removed
        from the file returns to what it was before the file defined it; a file that is being rewritten
        or is invalid (by the rules of `merge_file`) is skipped with a warning (the previous models stay)
        until it is valid again.
        """
        from ._catalog_file import read_catalog

        path = _file_path(path)
        watched = next((w for w in self._files if w.path.resolve() == path.resolve()), None)
        if watched is not None:  # (a notebook cell run again): one layer, re-read at the next read of the catalog
            _check_interval(interval)  # (as the first watch's: `"1"` was a TypeError, NaN never re-read the file again)
            watched.interval, watched.checked_at = interval, float("-inf")
            return self
        content = read_catalog(path)
        content.refuse_exclusion()
        return self._watch(path, interval, content)

    def _watch(self, path: Path, interval: float, content: CatalogContent) -> ModelCatalog:
        _check_interval(interval)
        # (the file read now: a relative path re-read after `os.chdir` or `%cd` loaded another folder's file)
        watched = WatchedFile(path.absolute(), interval, include_default=content.include_default)
        watched.load(self, content=content)
        watched.checked_at = time.monotonic()
        self._files.append(watched)
        self._version += 1
        return self

    def merge_mapping(self, data: Mapping[str, Any], *, source: str = "catalog data") -> ModelCatalog:
        """Add or override models (and aliases) from parsed data (`models`, `aliases`); returns `self`. The data is
        checked as a whole first, as a file's (a model may stay unpriced: it cannot be used until priced)."""
        from ._catalog_file import parse_catalog

        self._merge(parse_catalog(data, source, file=False))
        return self

    def _merge(self, content: CatalogContent) -> None:
        """Apply checked content (all of it, or nothing when an alias does not resolve)."""
        self._sync()
        with self._transaction():
            for model in content.models:
                self._record(partial(self._put, model))
            for alias, target in content.resolve_aliases(self).items():
                self._record(partial(self._alias, alias, target))
            self._endpoints.update(content.providers)

    # -- changes (each takes effect on the next decision of a running orchestrator) -----------
    def add(self, model: ModelProfile, *, replace: bool = False) -> ModelProfile:
        """Add `model`; with `replace=True` an existing model of the same name is overridden. An alias of `model`
        that another model holds is refused (move it with `alias` once the model is added)."""
        return self._add(model, replace=replace, settled=frozenset())

    def _add(self, model: ModelProfile, *, replace: bool, settled: frozenset[str]) -> ModelProfile:
        self._sync()
        if not isinstance(model, ModelProfile):
            raise UserError(
                f"a catalog holds ModelProfile objects, not {type(model).__name__}"
                + (": read a catalog file with ModelCatalog.from_file(path)" if isinstance(model, str | Path) else "")
            )
        if model.name in self._models and not replace:
            raise ConfigurationError(f"model {model.name!r} is already in the catalog (pass replace=True)")
        self._refuse_aliases_naming_models(model.name, model.aliases)
        self._refuse_held_aliases(model.name, (a for a in model.aliases if a not in settled))
        self._record(partial(self._put, model))
        return model

    def update(self, name: str, **fields: Any) -> ModelProfile:
        """Change fields of a model (`input_cost_per_1k=...`, `status="disabled"`, `quality=...`); returns the
        new profile. The profile is validated again, so derived figures (the blended `cost_per_1k_tokens`)
        follow the new prices."""
        current = self.get(name)
        unknown = set(fields) - set(ModelProfile.model_fields)
        if unknown:
            raise ConfigurationError(f"cannot update {current.name!r}: unknown field(s) {', '.join(sorted(unknown))}")
        if fields.get("name", current.name) != current.name:
            raise ConfigurationError("a model's name cannot be updated: remove it and add the new one")
        try:
            model = current.model_copy(update=fields)
        except ValidationError as exc:
            first = exc.errors()[0]  # (as a catalog file's entry says it: "specialties: unknown domain …", not
            where = ".".join(str(p) for p in first["loc"])  # "specialties Value error, unknown domain …")
            message = str(first["msg"]).removeprefix("Value error, ")
            raise ConfigurationError(
                f"cannot update {current.name!r}: {where + ': ' if where else ''}{message}"
            ) from exc
        self._refuse_aliases_naming_models(model.name, model.aliases)
        self._refuse_held_aliases(model.name, model.aliases)
        self._put(model)
        if self._derivation is not None:  # (replayed over each rebuild: the fields given, not this whole profile)
            self._local.append(partial(self._update, model.name, dict(fields)))
        return model

    def set_status(self, name: str, status: ModelStatus) -> ModelProfile:
        """Make a model `active`, `deprecated` or `disabled` (a disabled model gets no further call)."""
        return self.update(name, status=status)

    def alias(self, alias: str, target: str) -> None:
        """Make `alias` resolve to the model `target`. An alias moved from another model goes back to it when
        `target` is removed."""
        _check_alias(alias)
        resolved = self.get(target).name
        self._refuse_aliases_naming_models(resolved, (alias,))
        self._record(partial(self._move_alias, alias, resolved))

    def remove(self, name: str) -> None:
        """Remove the model `name` (a name, alias or bare model id) and its aliases; an alias `alias()` moved to it
        from another model names that model again."""
        resolved = self.get(name).name
        self._record(partial(self._drop, resolved))

    @property
    def version(self) -> int:
        """A number that changes with every change to the catalog (including a reloaded file or a change of the
        catalog it derives from): caches of its models are valid while it stays the same."""
        self._sync()
        return self._version

    def refresh(self) -> int:
        """Check watched files (and a source catalog) now, whatever their interval; return `version`."""
        for watched in self._files:
            watched.checked_at = float("-inf")
        return self.version

    # -- lookup -------------------------------------------------------------------------------
    def get(self, name: str) -> ModelProfile:
        """The model called `name` (full name, alias, or an unambiguous bare model id)."""
        if not isinstance(name, str):  # (`preferred_models=[os.environ.get("MODEL")]`: "'NoneType' has no 'strip'")
            raise UserError(f"a model name is a string (a name or an alias), not {type(name).__name__} {name!r:.60}")
        self._sync()
        model = self._models.get(name) or self._models.get(self._aliases.get(name, ""))
        if model is not None:
            return model
        matches = [m for m in self._models.values() if m.version == name]
        if len(matches) == 1:
            return matches[0]
        if matches:  # (one model behind two endpoints: "did you mean 'llama'?" of 'llama' said nothing of which)
            raise UnknownModelError(name, list(self._models), ambiguous=[m.name for m in matches])
        raise UnknownModelError(name, list(self._models), unserved=self._left_out(name), meant=self._meant(name))

    def _meant(self, name: str) -> str | None:
        """The one name, alias or model id that `name` matches in another letter case (`GPT4` → `gpt4`) or without
        white space around it (`" claude"`, from a list split at its commas), or None. A name written as LiteLLM and
        other gateways write them, `provider/model` (`ollama/llama3.2`), is matched as `provider:model`. A vendor's
        dated snapshot (`gpt-4o-2024-08-06`, `claude-haiku-4-5-20251001`) or its `-latest` name, as code written for
        the vendor's API pins one, names the catalog's model of that name without the suffix (`gpt-4o`)."""
        folded = name.strip().casefold()
        found = self._folded(folded)
        provider, slash, model = folded.partition("/")
        if not found and slash and provider and model and ":" not in provider:
            found = {n for n in [*self._models, *self._aliases] if n.casefold() == f"{provider}:{model}"}
        undated = _SNAPSHOT.sub("", folded)
        if not found and undated != folded:
            found = self._folded(undated)
        return found.pop() if len(found) == 1 else None

    def _folded(self, folded: str) -> set[str]:
        """The names, aliases and model ids that are `folded` in another letter case."""
        found = {n for n in [*self._models, *self._aliases] if n.casefold() == folded}
        return found | {m.version for m in self._models.values() if m.version.casefold() == folded}

    def _left_out(self, name: str) -> str | None:
        """The full name of `name` in the catalog this one is derived from, when this one left it out (`with_only`:
        its provider is not in use), else None."""
        link = self._derivation
        if link is None:
            return None
        try:
            return link.source.get(name).name
        except UnknownModelError:
            return None

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.get(name)
        except UnknownModelError:
            return False
        return True

    def __iter__(self) -> Iterator[ModelProfile]:
        self._sync()
        return iter(list(self._models.values()))

    def __len__(self) -> int:
        self._sync()
        return len(self._models)

    def __repr__(self) -> str:
        """Its size and first models (and the files it watches), not `<ModelCatalog object at 0x…>`."""
        names = [m.name for m in self]
        shown = ", ".join(repr(n) for n in names[:4]) + (f", … ({len(names) - 4} more)" if len(names) > 4 else "")
        watched = "".join(f", watching {str(w.path)!r}" for w in self._files)
        return (
            f"ModelCatalog({len(names)} models: [{shown}]{watched})" if names else f"ModelCatalog(no models{watched})"
        )

    @property
    def aliases(self) -> dict[str, str]:
        """Every alias and the full model name it stands for (a copy: change aliases with `alias`)."""
        self._sync()
        return dict(self._aliases)

    def providers(self) -> list[str]:
        """The providers the catalog's models belong to, in catalog order."""
        return list(dict.fromkeys(m.provider for m in self))

    def with_only(self, providers: Iterable[str]) -> ModelCatalog:
        """A catalog keeping only the models of `providers` (and the aliases that still resolve); it follows
        this catalog's later changes. A name that is no provider of this catalog (of its models or its named
        endpoints) is refused (`UserError`): `["opnai"]` or `["OpenAI"]` silently kept no model at all."""
        if isinstance(providers, str):  # (read letter by letter, it kept no model)
            raise UserError(f"with_only takes a list of provider names: write with_only([{providers!r:.60}])")
        if not isinstance(providers, Iterable):
            raise UserError(f"with_only takes a list of provider names, not {type(providers).__name__}")
        providers = list(providers)
        known = list(dict.fromkeys([*self.providers(), *self._endpoints]))
        for name in providers:
            if name not in known:
                raise UserError(_not_a_provider(name, known))
        return self._with_only(providers)

    def _with_only(self, providers: Iterable[str]) -> ModelCatalog:
        """`with_only` unchecked: an orchestrator keeps the models of the providers it was given, which may serve
        none of them (it then says no model is served)."""
        keep = frozenset(providers)
        derived = self._derive(partial(_only_providers, keep))
        # (the named endpoints of the kept providers go along: without them `Orchestrator(catalog=ModelCatalog
        # .from_file("models.toml").with_only(["laptop"]))` had no provider for its models and ran the simulator)
        derived._endpoints = {name: spec for name, spec in self._endpoints.items() if name in keep}
        return derived

    def simulated(self) -> ModelCatalog:
        """A catalog where every model is served by the offline simulator as `sim:<model>` (it follows this
        catalog's later changes).

        Prices, windows and priors are kept, and the real names and aliases resolve to the
        simulated models, so code written against real models runs unchanged offline.
        """
        return self._derive(_simulated)

    def copy(self) -> ModelCatalog:
        """An independent snapshot (it does not follow this catalog's changes)."""
        snapshot = ModelCatalog(self, aliases=self.aliases)
        snapshot._endpoints = dict(self._endpoints)
        return snapshot

    def __copy__(self) -> ModelCatalog:
        """`copy.copy(catalog)` is `catalog.copy()`: a shallow copy shared the models and aliases, so a change to the
        copy changed this catalog without changing its `version` (orchestrators using it went on with stale pools)."""
        return self.copy()

    # -- internals ----------------------------------------------------------------------------
    def _derive(self, build: Callable[[ModelCatalog], tuple[list[ModelProfile], dict[str, str]]]) -> ModelCatalog:
        derived = ModelCatalog()
        derived._derivation = Derivation(self, build)
        derived._sync()
        return derived

    def _record(self, change: Callable[[], object]) -> None:
        """Apply a change made through the public API (kept to replay when a derived catalog is rebuilt)."""
        change()
        if self._derivation is not None:
            self._local.append(change)

    def _sync(self) -> None:
        """Rebuild a derived catalog whose source changed (its own changes and the files it watches laid over it
        again), and re-read changed watched files."""
        link = self._derivation
        if link is not None and link.source.version != link.seen:
            self._rebuild(link)
        for watched in self._files:
            if watched.due():
                signature = watched.changed()
                if signature is not None and watched.load(self, signature):
                    self._version += 1

    def _rebuild(self, link: Derivation) -> None:
        link.seen = link.source.version
        models, aliases = link.build(link.source)
        self._models = {m.name: m for m in models}
        self._aliases, self._moved = {}, {}
        for model in models:
            for alias in model.aliases:
                self._aliases[alias] = model.name
        self._aliases.update(aliases)
        for change in self._local:
            try:
                change()
            except UnknownModelError:  # the model it changed left the source
                continue
        for watched in self._files:  # (a file watched on the derived catalog itself: its layer, again)
            watched.reapply(self)
        self._version += 1

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """Changes made inside are undone if it raises."""
        saved = dict(self._models), dict(self._aliases), dict(self._endpoints), len(self._local), dict(self._moved)
        try:
            yield
        except BaseException:
            self._models, self._aliases, self._endpoints = saved[:3]
            self._moved = saved[4]
            del self._local[saved[3] :]
            self._version += 1
            raise

    def _refuse_aliases_naming_models(self, name: str, aliases: Iterable[str]) -> None:
        """An alias that is another model's name would never resolve to `name` (a name wins): refused, as in a file."""
        for alias in aliases:
            if alias != name and alias in self._models:
                raise ConfigurationError(
                    f"model {name!r}: alias {alias!r} is already a model's name: pick another alias"
                )

    def _refuse_held_aliases(self, name: str, aliases: Iterable[str]) -> None:
        """An alias another model holds was silently moved to `name` (`add(ModelProfile(..., aliases=("gpt4",)))`:
        `gpt4` then ran the new model, and removing it left `gpt4` resolving to nothing): refused, naming the holder
        and the explicit way to move it."""
        for alias in aliases:
            holder = self._aliases.get(alias)
            if holder is not None and holder != name and holder in self._models:
                raise ConfigurationError(
                    f"model {name!r}: alias {alias!r} already names {holder!r}: pick another alias, or move it with"
                    f" catalog.alias({alias!r}, {name!r}) once the model is in the catalog"
                )

    def _peek(self, name: str) -> ModelProfile | None:
        return self._models.get(name)

    def _put(self, model: ModelProfile, *, keep_missing: bool = False) -> None:
        if keep_missing and model.name not in self._models:
            return
        old = self._models.get(model.name)
        if old is not None:  # the aliases the replaced profile carried and this one does not: gone with it
            for alias in set(old.aliases) - set(model.aliases):
                if self._aliases.get(alias) == model.name:
                    del self._aliases[alias]
        self._models[model.name] = model
        for alias in model.aliases:
            self._aliases[alias] = model.name
        self._version += 1

    def _update(self, name: str, fields: dict[str, Any]) -> None:
        """`update`'s change: the fields given, over the model as it is now (replayed on a derived catalog rebuilt
        from its source, it keeps the source's later changes to the other fields: a new price, say)."""
        current = self._models.get(name)
        if current is None:
            return
        try:
            self._put(current.model_copy(update=fields))
        except (ValidationError, UserError):  # (no longer valid over the source's new profile: the source's stands)
            return

    def _drop(self, name: str) -> None:
        if self._models.pop(name, None) is not None:
            self._aliases = {a: t for a, t in self._aliases.items() if t != name}
            for alias, earlier in list(self._moved.items()):  # (`gpt4` moved to a model then removed named nothing)
                if earlier != name and alias not in self._aliases and earlier in self._models:
                    self._aliases[alias] = earlier
                if earlier == name or self._aliases.get(alias) == earlier or alias not in self._aliases:
                    del self._moved[alias]
            self._version += 1

    def _move_alias(self, alias: str, target: str) -> None:
        """`alias()`'s change: point `alias` at `target`, remembering the model it named before (the first, when it
        is moved again), which it names again once `target` is removed."""
        if target not in self._models:
            return
        earlier = self._aliases.get(alias)
        if self._moved.get(alias) == target:  # (moved back where it was)
            del self._moved[alias]
        elif earlier is not None and earlier != target and earlier in self._models:
            self._moved.setdefault(alias, earlier)
        self._alias(alias, target)

    def _alias(self, alias: str, target: str) -> None:
        if target in self._models:
            self._aliases[alias] = target
            self._version += 1


def _file_path(path: object) -> Path:
    """The catalog file `path` names: a str or `os.PathLike`, not empty (`from_file(os.environ.get("CATALOG"))` with the
    variable unset raised "TypeError: expected str, bytes or os.PathLike object, not NoneType"; `""` read the working
    directory: "cannot read catalog file '.': Is a directory")."""
    if not isinstance(path, str | os.PathLike) or not str(path):
        shown = "an empty path" if isinstance(path, str) else f"{type(path).__name__} {path!r:.60}"
        raise ConfigurationError(
            f"a catalog file is named by its path (a str or Path, such as 'models.toml'), not {shown}"
            + (" (a variable left unset?)" if path is None or path == "" else "")
        )
    return Path(path).expanduser()


def _check_interval(interval: object) -> None:
    """`ConfigurationError` unless `interval` is a number of seconds >= 0 (NaN is not: the file was never due)."""
    if isinstance(interval, bool) or not isinstance(interval, int | float) or not interval >= 0:
        raise ConfigurationError(f"the catalog watch interval must be a number of seconds >= 0, not {interval!r}")


def _only_providers(keep: frozenset[str], source: ModelCatalog) -> tuple[list[ModelProfile], dict[str, str]]:
    """`ModelCatalog.with_only`'s models and aliases of `source` (module-level, so a catalog derived so pickles)."""
    models = [m for m in source if m.provider in keep]
    names = {m.name for m in models}
    return models, {a: t for a, t in source.aliases.items() if t in names}


def _simulated(source: ModelCatalog) -> tuple[list[ModelProfile], dict[str, str]]:
    """`ModelCatalog.simulated`'s models and aliases of `source` (a module-level function: a catalog derived so
    pickles, as one `Orchestrator(providers=[SimulatedProvider()])` makes)."""
    renamed: dict[str, str] = {}
    models = []
    named: dict[str, list[str]] = {}  # the catalog's own aliases of each model (`gpt4`), which the simulated
    for alias, target in source.aliases.items():  # profile carries, so a `Faults` script may name it so too
        named.setdefault(target, []).append(alias)
    taken = {m.name for m in source if m.provider == "sim"}
    for m in source:
        if m.provider == "sim":
            models.append(m)
            continue
        sim_name = f"sim:{m.version}"
        if sim_name in taken:  # a model id another provider serves too (`ollama:llama3.2`, `vllm:llama3.2`): one
            sim_name = f"sim:{m.provider}/{m.version}"  # model was left, the other's name an alias of it
        taken.add(sim_name)
        renamed[m.name] = sim_name
        aliases = tuple(dict.fromkeys((m.name, *m.aliases, *named.get(m.name, ()))))
        models.append(m.model_copy(update={"name": sim_name, "provider": "sim", "aliases": aliases}))
    return models, {a: renamed.get(t, t) for a, t in source.aliases.items()}
