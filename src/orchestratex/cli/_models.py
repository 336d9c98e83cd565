"""`orchestratex models`: the catalog, and which providers are configured."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from ..catalog import ModelCatalog, ModelProfile
from ..exceptions import ConfigurationError, OrchestrateXError
from ..providers import load_provider_class, provider_names
from ..providers._registry import KNOWN_ENV_VARS, added_endpoint, install_hint, key_hint
from ..providers._support import base_url_problem, checked_api_key, env_timeout, env_value, shown_url
from ._output import Output, json_text, plain_table

if TYPE_CHECKING:
    from .._catalog_file import CatalogFile

__all__ = [
    "CatalogSetup",
    "ProviderState",
    "catalog_file",
    "catalog_setup",
    "modelless_providers",
    "models_command",
    "provider_states",
    "simulation_reason",
    "with_models",
]


@dataclass(frozen=True, slots=True)
class ProviderState:
    """Whether a provider of the catalog can be used: its adapter installed, its key set."""

    name: str
    installed: bool
    key_set: bool
    configured: bool
    key_env: str | None = None
    """The variable holding the key, for a catalog file's endpoint (else the provider's usual one)."""
    kind: str | None = None
    """The adapter serving a catalog file's endpoint (`kind = "openai"`); else the provider's own name."""
    problem: str | None = None
    """Why a catalog file's endpoint, installed and with its key set, still cannot be built (what `run` would say)."""

    @property
    def install(self) -> str:
        adapter = self.kind or self.name
        return install_hint(adapter) or f"no installed package provides the adapter {adapter!r}"

    @property
    def short(self) -> str:
        """`ready`, `not installed` or `no key`, for a table's status column."""
        return "ready" if self.configured else "not installed" if not self.installed else "no key"

    def describe(self) -> str:
        if self.configured:
            return "configured"
        if self.problem is not None:
            return self.problem
        if not self.installed:
            return f"not installed ({self.install})"
        variables = self.key_env or key_hint(self.name)
        if all(var.endswith("_BASE_URL") for var in variables.split(" or ")):  # (a local server: no key to set)
            return f"no server (set {variables})"
        return f"no key (set {variables})"


def _states(catalog: ModelCatalog, env: Mapping[str, str] | None = None) -> dict[str, ProviderState]:
    env = os.environ if env is None else env
    installed = set(provider_names())
    states = {}
    for name in catalog.providers():
        key_set = any(env_value(env, v) for v in KNOWN_ENV_VARS.get(name, (f"{name.upper()}_API_KEY",)))
        key_env = None
        if name not in installed:
            configured = False
        elif name in KNOWN_ENV_VARS:
            # a key configures the provider; a base URL alone may not (OpenAI's own server needs a key): the adapter,
            # and its SDK, is loaded to ask it only then
            keyed = any(env_value(env, v) for v in KNOWN_ENV_VARS[name] if v.endswith("_API_KEY"))
            configured = keyed or (key_set and load_provider_class(name).is_configured(env))
            if key_set and not configured:
                # (`OPENAI_BASE_URL=https://api.openai.com/v1` alone: OpenAI's own server, which needs a key, was shown
                # "configured" and its models "ready", while `run` used the simulator)
                key_env = getattr(load_provider_class(name), "api_key_env", None)
        else:
            configured = load_provider_class(name).is_configured(env)
        problem = _bad_base_url(name, env) if configured else None
        states[name] = ProviderState(
            name, name in installed, key_set, configured and problem is None, key_env=key_env, problem=problem
        )
    return states


_BASE_URL_VARS = {
    "anthropic": ("ANTHROPIC_BASE_URL",),
    "gemini": ("GOOGLE_GEMINI_BASE_URL",),
    "openrouter": ("OPENROUTER_BASE_URL",),
    "vllm": ("VLLM_API_KEY",),
}
"""The variables `run` reads beside those that configure the provider (`KNOWN_ENV_VARS`): the base-URL variables of
providers that a key configures (the variable alone does not), and the key of a server that a URL configures. (Left
unchecked, `OPENROUTER_BASE_URL=localhost:4000` or a `VLLM_API_KEY` with a line break inside was shown "configured",
and `run` refused it.)"""


def _bad_base_url(provider: str, env: Mapping[str, str]) -> str | None:
    """Why the provider's base-URL variable cannot be called, as `run` would say when it makes the provider
    (`OPENAI_BASE_URL=localhost:11434/v1` was shown "configured"), or None."""
    for var in (*KNOWN_ENV_VARS.get(provider, ()), *_BASE_URL_VARS.get(provider, ())):
        url = env_value(env, var)
        if var.endswith("_API_KEY") and url:
            try:  # (a key no HTTP header can carry, as `run` refuses it; the key itself is never shown)
                checked_api_key(url, provider=provider, where=var)
            except ConfigurationError as exc:
                return str(exc).removeprefix(f"{provider}: ")
        if var.endswith("_BASE_URL") and url:  # (as `run` refuses it, in the same words; no password is shown)
            problem = base_url_problem(url, endpoint=added_endpoint(provider))
            if problem is not None:
                return f"{var} {shown_url(url)!r} {problem}"
    if provider in KNOWN_ENV_VARS:  # (built from the environment, its timeout too: as `run` refuses a bad one)
        try:
            env_timeout(env)
        except ConfigurationError as exc:
            return str(exc)
    return None


def provider_states(catalog: ModelCatalog) -> dict[str, str]:
    """For each provider of the catalog: `configured`, `no key (set …)` or `not installed (pip install …)`."""
    return {name: state.describe() for name, state in _states(catalog).items()}


def simulation_reason(catalog: ModelCatalog | None = None, env: Mapping[str, str] | None = None) -> str:
    """Why a run with no provider given falls back to the simulator, with what to do about it."""
    env = os.environ if env is None else env
    states = _states(catalog or ModelCatalog.default(), env)
    missing = [s for s in states.values() if s.key_set and not s.installed]
    if missing:
        return "; ".join(
            f"{_set_variable(s.name, env)} is set but the {s.name} adapter is not installed ({s.install})"
            for s in missing
        )
    return "; ".join(modelless_providers(catalog or ModelCatalog.default(), env)) or "no provider API key is set"


def modelless_providers(catalog: ModelCatalog, env: Mapping[str, str] | None = None) -> list[str]:
    """What is set for a provider the catalog has no model of (`OLLAMA_BASE_URL is set, but the catalog has no
    ollama model: …`): a run routes only among the catalog's models, so it used the simulator while the command
    said "no provider API key is set"."""
    env = os.environ if env is None else env
    ours = set(catalog.providers())
    return [
        f"{_set_variable(name, env)} is set, but the catalog has no {name} model: name its models in a catalog file"
        " (--catalog FILE)"
        for name, variables in KNOWN_ENV_VARS.items()
        if name not in ours and any(env_value(env, v) for v in variables)
    ]


def _set_variable(provider: str, env: Mapping[str, str]) -> str:
    """The variable that configures `provider` and is set (the first of its usual ones)."""
    names = KNOWN_ENV_VARS.get(provider, (f"{provider.upper()}_API_KEY",))
    return next((v for v in names if env_value(env, v)), names[0])


def _aliases(catalog: ModelCatalog) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for alias, target in catalog.aliases.items():
        found.setdefault(target, []).append(alias)
    return {name: sorted(names) for name, names in found.items()}


def _status(model: ModelProfile, states: Mapping[str, ProviderState]) -> str:
    state = states.get(model.provider)
    ready = state.short if state is not None else "ready"
    return ready if model.status == "active" else f"{model.status}, {ready}"


@dataclass(frozen=True, slots=True)
class CatalogSetup:
    """The catalog a command uses and the state of each of its providers (a catalog file's endpoints included)."""

    catalog: ModelCatalog
    states: dict[str, ProviderState]
    source: str | None = None
    """The catalog file, if one is used."""
    endpoints: tuple[str, ...] = ()
    """The file's named endpoints (`[providers.NAME]`): a run builds every one of them, or refuses the file."""

    @property
    def blocked(self) -> list[ProviderState]:
        """The file's endpoints that cannot be used: while there are any, `run` refuses the file."""
        return [self.states[name] for name in self.endpoints if not self.states[name].configured]

    @property
    def simulated(self) -> bool:
        """Whether a run without `--provider` would use the simulator (no provider configured)."""
        states = self.states.values()  # (a provider set up wrongly makes `run` fail, not simulate)
        return not self.blocked and not any(s.configured or s.problem is not None for s in states)


def catalog_setup(file: CatalogFile | None) -> CatalogSetup:
    """The default catalog, or that of the catalog `file` (see `catalog_file`), with the state of each provider: a
    file's endpoint is usable when its adapter (`kind`) is installed and its key variable set."""
    if file is None:
        catalog = ModelCatalog.default()
        return CatalogSetup(catalog, _states(catalog))
    states = _states(file.catalog)
    installed = set(provider_names())
    for name, spec in file.providers.items():
        key_set = not spec.api_key_env or env_value(os.environ, spec.api_key_env) is not None
        usable = spec.kind in installed
        problem = None
        if usable and key_set:
            try:  # as `run` would (nothing is sent): a server that needs a key the file does not name, say
                spec.build(os.environ)
            except OrchestrateXError as exc:
                problem = exc.message
        states[name] = ProviderState(
            name,
            usable,
            key_set and problem is None,
            usable and key_set and problem is None,
            key_env=spec.api_key_env,
            kind=spec.kind,
            problem=problem,
        )
    return CatalogSetup(file.catalog, states, str(file.path), tuple(file.providers))


def catalog_file(args: argparse.Namespace) -> CatalogFile | None:
    """The catalog file of `--catalog FILE`, else of ORCHESTRATEX_CATALOG (its errors then name the variable), read
    once: the command hands its catalog to the orchestrator rather than the path, which would be read again (and
    could have changed meanwhile). None: the shipped catalog."""
    from .._catalog_file import env_catalog_path, load_catalog_file, load_env_catalog_file

    given = getattr(args, "catalog", None)
    if given:
        return with_models(load_catalog_file(given))
    path = env_catalog_path()
    return None if path is None else with_models(load_env_catalog_file(path), from_env=True)


def with_models(file: CatalogFile, *, from_env: bool = False) -> CatalogFile:
    """`file`, refused (`ConfigurationError`) when its catalog holds no model at all (`include_default = false` and
    no `models`, as a file begun and not finished is): `run` failed with the library's hint to build
    `Orchestrator(providers=[...], catalog=ModelCatalog([...]))` in Python, `models` showed an empty table under "`run`
    uses the offline simulator", and `serve` started, to fail every request."""
    from .._catalog_file import CATALOG_ENV

    if len(file.catalog):
        return file
    where = f" (the catalog named by {CATALOG_ENV})" if from_env else ""
    raise ConfigurationError(
        f"catalog file '{file.path}' lists no model: it sets include_default = false and names none under models; "
        f'add your models ([[models]] name = "provider:model" …), or drop include_default = false to start from the '
        f"shipped catalog{where}"
    )


def models_command(args: argparse.Namespace) -> int:
    setup = catalog_setup(catalog_file(args))
    catalog, states, simulated = setup.catalog, setup.states, setup.simulated
    aliases = _aliases(catalog)
    if args.json:
        data = {
            "providers": {name: s.describe() for name, s in states.items()},
            "simulated": simulated,
            "models": [
                {
                    **m.model_dump(mode="json"),
                    "aliases": aliases.get(m.name, []),
                    "provider_status": _status(m, states),
                }
                for m in catalog
            ],
            "aliases": catalog.aliases,
        }
        Output().verbatim(json_text(data))
        return 0
    out = Output()
    for name, state in states.items():
        mark = Text("✔", "green") if state.configured else Text("✘", "red")
        out.line(Text.assemble(mark, f" {name}: {state.describe()}"))  # Text: `[openai]` is not markup
    if simulated:
        why = "".join(f" ({reason})" for reason in modelless_providers(catalog))
        out.line(Text(f"No provider is configured: `orchestratex run` uses the offline simulator{why}.", "yellow"))
    if setup.blocked:
        names = ", ".join(s.name for s in setup.blocked)
        usable = ",".join(name for name, state in states.items() if state.configured)
        unless = f", or runs with --provider {usable}, which leaves the others out" if usable else ""
        out.line(
            Text(
                f"`orchestratex run` refuses this catalog file until {names} can be used (see ✘ above){unless}.", "red"
            )
        )
    headers = ["model", "aliases", "status", "in $/1M", "out $/1M", "context", "max out", "specialties"]
    rows = [
        [
            m.name,
            ", ".join(aliases.get(m.name, [])),
            _status(m, states),
            _price(m.input_cost_per_1k),
            _price(m.output_cost_per_1k),
            _tokens(m.context_window),
            _tokens(m.max_output_tokens),
            ", ".join(m.specialties),
        ]
        for m in catalog
    ]
    if not out.rich:
        out.line("")
        out.verbatim(plain_table(headers, rows, right=(3, 4, 5, 6)))
        return 0
    table = _table(headers, rows, out.console.width)
    out.render(_cards(rows) if table is None else table)
    return 0


def _table(headers: list[str], rows: list[list[str]], width: int) -> Table | None:
    """The catalog on a terminal, wrapped rather than cut. When the full table is wider than the terminal (80
    columns are too few for it: rich squeezed aliases and specialties to nothing and cut the status), each model's
    aliases go under its name, the figures' headings on two lines, and specialties wrap in the width left."""
    table = _full_table(headers, rows)
    if Measurement.get(_MEASURE, _MEASURE.options, table).maximum <= width:
        return table
    table = Table(title="Model catalog (US$ per 1M tokens)", box=None, pad_edge=False, header_style="bold underline")
    for i, header in enumerate(headers):
        if header == "aliases":
            continue
        figure = 3 <= i <= 6
        table.add_column(
            header.replace(" ", "\n") if figure else header,
            justify="right" if figure else "left",
            no_wrap=header != "specialties",
            min_width=len(header) if header == "specialties" else None,  # (10 cut its heading to "specialti…")
        )
    for row in rows:
        name = Text(row[0])
        if row[1]:
            name.append(f"\n  {row[1]}", "dim")
        table.add_row(name, _status_text(row[2]), *(Text(c) for c in row[3:]))
    if Measurement.get(_MEASURE, _MEASURE.options, table).minimum > width:
        return None  # narrower still (a split pane, a phone): `_cards`, which cut every figure to "8…" and "no k…"
    return table


def _cards(rows: list[list[str]]) -> Table:
    """The catalog on a terminal too narrow even for the narrow table: a few short lines per model, wrapped at the
    terminal's width (nothing is cut)."""
    cards = Table(title="Model catalog (US$ per 1M tokens)", box=None, show_header=False, pad_edge=False)
    cards.add_column(overflow="fold")
    for name, aliases, status, price_in, price_out, context, max_out, specialties in rows:
        cards.add_row(Text.assemble((name, "bold"), (f"  {aliases}" if aliases else "", "dim")))
        figures = f" · in {price_in} · out {price_out} · context {context} · max out {max_out}"
        cards.add_row(Text.assemble("  ", _status_text(status), figures))
        if specialties:
            cards.add_row(Text(f"  {specialties}", "dim"))
    return cards


_MEASURE = Console(width=100_000, height=25)
"""A console wide enough to measure a table's natural width on (its height given too: else, under TERM=dumb, rich
took it for an 80-column terminal, and a table too wide for the screen measured as if it fitted)."""


def _full_table(headers: list[str], rows: list[list[str]]) -> Table:
    table = Table(title="Model catalog (US$ per 1M tokens)")
    for i, header in enumerate(headers):
        wraps = header in ("aliases", "specialties")
        table.add_column(
            header, justify="right" if 3 <= i <= 6 else "left", no_wrap=not wraps, min_width=10 if wraps else None
        )
    for row in rows:
        table.add_row(Text(row[0]), Text(row[1], "dim"), _status_text(row[2]), *(Text(c) for c in row[3:]))
    return table


def _status_text(status: str) -> Text:
    return Text(status, "green" if status == "ready" else "yellow")


def _price(per_1k: float | None) -> str:
    return "unpriced" if per_1k is None else f"{per_1k * 1000:.2f}"


def _tokens(n: int) -> str:
    """A token count in thousands (K = 1,000, M = 1,000,000): 128,000 is 128K, 131,072 is 131K."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.3g}M"
    if n >= 1000:
        return f"{n / 1000:.0f}K"
    return str(n)
