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

One reader (`read_catalog`) and one set of rules serve every way of loading a file:
`Orchestrator(catalog=path)`, `ModelCatalog.from_file`, `merge_file` and `watch`. A model of a vendor
the price source knows (`openai:gpt-4o`) may leave its prices out: they are filled in from
`orchestratex/data/prices.toml`. Any other model without prices is refused with `UnknownPriceError`
naming it and the fix; any other mistake is a `ConfigurationError` naming the file and the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ._catalog_live import read_catalog_file
from ._prices import with_vendor_prices
from .exceptions import ConfigurationError, ProviderNotConfigured, UnknownModelError, UnknownPriceError, UserError
from .providers._support import base_url_problem, env_value, shown_url

if TYPE_CHECKING:
    from .catalog import ModelCatalog, ModelProfile
    from .providers import Provider

__all__ = [
    "CATALOG_ENV",
    "CatalogContent",
    "CatalogFile",
    "ProviderSpec",
    "build_endpoints",
    "env_catalog_path",
    "load_catalog_file",
    "load_env_catalog_file",
    "parse_catalog",
    "read_catalog",
]

CATALOG_ENV = "ORCHESTRATEX_CATALOG"
"""The variable naming the catalog file that `Orchestrator()`, `orchestratex run`, `serve` and `models` use."""

_FILE_KEYS = ("include_default", "providers", "models", "aliases")
_SPEC_KEYS = frozenset({"kind", "base_url", "api_key_env", "api", "timeout"})
_APIS = ("auto", "chat", "responses")
"""The values of `api` (for `kind = "openai"`)."""


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
    source: str = field(default="the catalog file", compare=False)
    """The file that declares it (named in errors; not compared: the file named by a relative path, then by its
    absolute path as a watched file is read again, declares the same endpoint)."""

    def build(self, env: Mapping[str, str]) -> Provider:
        """The provider, configured from this spec and the key in `env`; errors name the file and the key."""
        from .providers import load_provider_class

        where = f"{self.source}: providers.{self.name}"
        api_key = None
        if self.api_key_env:
            api_key = env_value(env, self.api_key_env)
            if api_key is None:
                raise ProviderNotConfigured(
                    f"provider {self.name!r} of {self.source} needs an API key: set {self.api_key_env}",
                    provider=self.name,
                    env_var=self.api_key_env,
                )
        try:
            cls = load_provider_class(self.kind)
        except ProviderNotConfigured as exc:
            raise ProviderNotConfigured(f"{where}: kind: {exc.message}", provider=self.name) from None
        try:
            return cls.from_config(
                self.name, base_url=self.base_url, api_key=api_key, api_key_env=self.api_key_env, **self.options
            )
        except NotImplementedError:
            raise ConfigurationError(_no_endpoints(where, self.name, self.kind)) from None
        except ProviderNotConfigured as exc:
            if self.api_key_env:
                raise
            raise ProviderNotConfigured(
                f"{where}: its server ({shown_url(self.base_url or '') or f'the default of kind {self.kind!r}'})"
                " needs an API key:"
                ' set api_key_env = "VARIABLE" naming the variable that holds it (or base_url to a server that'
                " needs none)",
                provider=self.name,
            ) from exc
        except UserError as exc:
            raise ConfigurationError(f"{where}: {exc.message}") from None


def _no_endpoints(where: str, name: str, kind: str) -> str:
    return (
        f"{where}: kind {kind!r} cannot serve a named endpoint (its adapter takes no base_url or api_key_env):"
        f' use kind = "openai" for an OpenAI-compatible server, or remove [providers.{name}] and configure'
        f" {kind!r} from its environment variables"
    )


@dataclass(frozen=True, slots=True)
class CatalogContent:
    """What a catalog file (or catalog data) holds, checked: its models, aliases and endpoints."""

    source: str
    include_default: bool
    providers: dict[str, ProviderSpec]
    models: list[ModelProfile]
    aliases: dict[str, str]

    def refuse_exclusion(self) -> None:
        """`include_default = false` is meaningless when the file is layered over a catalog you give."""
        if not self.include_default:
            raise ConfigurationError(
                f"{self.source}: include_default = false: merge_file and watch layer the file over the catalog"
                " you give; read the file on its own with ModelCatalog.from_file(path) (or Orchestrator(catalog=path))"
            )

    def resolve_aliases(self, catalog: ModelCatalog) -> dict[str, str]:
        """Each alias with the full name of its model in `catalog` (holding this file's models); an alias, in
        `[aliases]` or in a model's own `aliases`, that is a model's name is refused."""
        for i, model in enumerate(self.models):  # in file order (a repeated name is refused)
            for alias in model.aliases:
                if alias != model.name and catalog._peek(alias) is not None:
                    raise ConfigurationError(
                        f"{self.source}: models[{i}] aliases: {alias!r} is already a model's name: pick another alias"
                    )
        resolved = {}
        for alias, target in self.aliases.items():
            where = f"{self.source}: aliases.{alias}"
            if catalog._peek(alias) is not None:
                raise ConfigurationError(f"{where}: {alias!r} is already a model's name: pick another alias")
            try:
                resolved[alias] = catalog.get(target).name
            except UnknownModelError:
                raise ConfigurationError(
                    f"{where}: unknown model {target!r}: name a model of the catalog or of this file"
                ) from None
        return resolved


def read_catalog(path: Path) -> CatalogContent:
    """The checked content of the TOML or JSON catalog file at `path`."""
    return parse_catalog(read_catalog_file(path), str(path))


def parse_catalog(data: Mapping[str, Any], source: str, *, file: bool = True) -> CatalogContent:
    """Check catalog data; `file=False` (data given from code) takes `models` and `aliases` only, and lets a
    model stay unpriced (it cannot be used until priced)."""
    keys = _FILE_KEYS if file else ("models", "aliases")
    if not isinstance(data, Mapping):  # (a list of models, `json.load`ed: "'list' object has no attribute 'get'"; a
        listed = ": for a list of models, write {'models': [...]}" if isinstance(data, list | tuple) else ""
        raise ConfigurationError(  # string was read letter by letter: "unknown key 'x'")
            f"{source} must be a mapping with {' and '.join(repr(k) for k in keys[-2:])}, not "
            f"{type(data).__name__}{listed}"
        )
    unknown = set(data) - set(keys)
    if unknown:
        raise ConfigurationError(f"{source}: unknown key {sorted(unknown)[0]!r} (expected {', '.join(keys)})")
    include_default = data.get("include_default", True)
    if not isinstance(include_default, bool):
        raise ConfigurationError(f"{source}: include_default must be true or false")
    entries = data.get("models", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigurationError(f"{source}: 'models' must be a list of tables ([[models]])")
    models = _models(entries, source, require_prices=file)
    aliases = data.get("aliases", {})
    if not isinstance(aliases, dict):
        raise ConfigurationError(f"{source}: 'aliases' must be a table of alias = \"provider:model\"")
    from .catalog import _check_alias

    for alias, target in aliases.items():
        try:
            _check_alias(alias)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{source}: aliases: {exc}") from None
        if not isinstance(target, str) or not target:
            raise ConfigurationError(f"{source}: aliases.{alias}: must be a model's name (a string), not {target!r}")
        holder = next(((i, m) for i, m in enumerate(models) if alias in m.aliases), None)
        if holder is not None and target not in (holder[1].name, *holder[1].aliases, holder[1].version):
            raise ConfigurationError(
                f"{source}: aliases.{alias}: {alias!r} is already an alias of models[{holder[0]}]"
                f" ({holder[1].name!r}): an alias names one model"
            )
    providers = _provider_specs(data.get("providers", {}), source)
    return CatalogContent(source, include_default, providers, models, dict(aliases))


def _models(entries: list[dict[str, Any]], source: str, *, require_prices: bool) -> list[ModelProfile]:
    from .catalog import ModelProfile

    models: dict[str, ModelProfile] = {}
    first: dict[str, int] = {}
    carried: dict[str, tuple[int, str]] = {}
    for i, entry in enumerate(entries):
        try:
            model = ModelProfile.model_validate(with_vendor_prices(entry))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "entry"
            message = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "bool_type":
                message = f"must be true or false, not {err['input']!r}"
            raise ConfigurationError(f"{source}: models[{i}] {where}: {message}") from exc
        if model.name in models:
            raise ConfigurationError(
                f"{source}: models[{i}] name: {model.name!r} is already models[{first[model.name]}]"
            )
        if require_prices and not model.priced:
            raise UnknownPriceError(
                f"model {model.name!r} in {source} has no price and the price source does not know it: "
                "set input_cost_per_1k and output_cost_per_1k (0 for a free local model)"
            )
        for alias in model.aliases:  # (two models of one file claiming an alias: the last silently had it)
            holder = carried.get(alias)
            if holder is not None and holder[1] != model.name:
                raise ConfigurationError(
                    f"{source}: models[{i}] aliases: {alias!r} is already an alias of models[{holder[0]}]"
                    f" ({holder[1]!r}): an alias names one model"
                )
            carried[alias] = (i, model.name)
        models[model.name], first[model.name] = model, i
    return list(models.values())


def _provider_specs(table: object, source: str) -> dict[str, ProviderSpec]:
    from .providers import load_provider_class, provider_names
    from .providers._registry import serves_named_endpoints

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
        _check_base_url(spec.get("base_url"), where, kind)
        if "api" in spec and spec["api"] not in _APIS:
            raise ConfigurationError(f"{where}: api must be 'auto', 'chat' or 'responses', not {spec['api']!r}")
        # (a kind not installed here is reported where it would be used: `orchestratex models` shows it)
        if kind in provider_names() and not serves_named_endpoints(load_provider_class(kind)):
            raise ConfigurationError(_no_endpoints(where, name, kind))
        timeout = spec.get("timeout")
        if "timeout" in spec and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0):
            raise ConfigurationError(f"{where}: timeout must be a number of seconds > 0, not {timeout!r}")
        options = {key: spec[key] for key in ("api", "timeout") if key in spec}
        specs[name] = ProviderSpec(
            name=name,
            kind=kind,
            base_url=spec.get("base_url"),
            api_key_env=spec.get("api_key_env"),
            options=options,
            source=source,
        )
    return specs


def _check_base_url(url: str | None, where: str, kind: str) -> None:
    """`ConfigurationError` for a base URL no HTTP client can call (`base_url_problem`): `localhost:11434/v1` (as
    Ollama's docs write its address) was shown ready by `orchestratex models`, and every call of a run failed with
    "unsupported protocol 'localhost://'"."""
    if url is None:
        return
    from .providers._registry import added_endpoint

    problem = base_url_problem(url, endpoint=added_endpoint(kind))
    if problem is not None:
        raise ConfigurationError(f"{where}: base_url {shown_url(url)!r} {problem}")


def build_endpoints(catalog: ModelCatalog, env: Mapping[str, str] | None = None) -> dict[str, Provider]:
    """A provider for each named endpoint (`[providers.NAME]`) of the catalog files merged into `catalog`."""
    env = os.environ if env is None else env
    return {name: spec.build(env) for name, spec in catalog._endpoints.items()}


@dataclass(frozen=True, slots=True)
class CatalogFile:
    """A loaded catalog file: the catalog it describes and its named endpoints."""

    path: Path
    catalog: ModelCatalog
    providers: dict[str, ProviderSpec]

    def build_providers(self, env: Mapping[str, str] | None = None) -> dict[str, Provider]:
        """A provider for each `[providers.NAME]` endpoint."""
        return build_endpoints(self.catalog, env)


def env_catalog_path(env: Mapping[str, str] | None = None) -> str | None:
    """The path `ORCHESTRATEX_CATALOG` names, white space around it dropped (as around `ORCHESTRATEX_STORE_URL` and
    the server's other settings), or None when it is unset or blank. A line of an env file written on Windows ends
    in `\r`, which docker's `--env-file` and systemd's `EnvironmentFile=` keep: `models.toml\r` was refused as "cannot
    read catalog file 'models.toml\r': No such file or directory", of a file that was there."""
    return (os.environ if env is None else env).get(CATALOG_ENV, "").strip() or None


def load_env_catalog_file(path: str, *, watch: bool = False) -> CatalogFile:
    """`load_catalog_file` of the path `ORCHESTRATEX_CATALOG` gave (see `env_catalog_path`): its errors name the
    variable (the user may not know it is set, in a shell profile or a container's environment)."""
    from .exceptions import ConfigurationError, UnknownPriceError

    quoted = len(path) > 1 and path[0] == path[-1] and path[0] in "\"'"
    if quoted and not Path(path).expanduser().exists():  # (docker's `--env-file` keeps them: `X="models.toml"`)
        raise ConfigurationError(
            f"catalog file {path!r} is in quotes: remove them, they are not part of the path (the catalog named by "
            f"{CATALOG_ENV})"
        )
    try:
        return load_catalog_file(path, watch=watch)
    except (ConfigurationError, UnknownPriceError) as exc:
        raise type(exc)(f"{exc.message} (the catalog named by {CATALOG_ENV})") from exc


def load_catalog_file(path: str | os.PathLike[str], *, watch: bool = False) -> CatalogFile:
    """Read a TOML (or JSON) catalog file; `ConfigurationError` or `UnknownPriceError` say what is wrong. With
    `watch`, the catalog re-reads the file when it changes (`ModelCatalog.from_file(path, watch=True)`)."""
    from .catalog import ModelCatalog

    catalog = ModelCatalog.from_file(path, watch=watch)  # (checks the path: `catalog=""` read the working directory)
    path = Path(path).expanduser()
    return CatalogFile(path=path, catalog=catalog, providers=dict(catalog._endpoints))
