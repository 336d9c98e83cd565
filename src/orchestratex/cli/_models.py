"""`orchestratex models`: the catalog, and which providers are configured."""

from __future__ import annotations

import argparse
import json
import os

from rich.console import Console
from rich.table import Table

from ..catalog import ModelCatalog
from ..providers import load_provider_class, provider_names
from ..providers._registry import KNOWN_ENV_VARS, key_hint

__all__ = ["models_command"]


def provider_states(catalog: ModelCatalog) -> dict[str, str]:
    """For each provider of the catalog: `configured`, `no key (set …)` or `not installed (pip install …)`."""
    installed = set(provider_names())
    states = {}
    for name in catalog.providers():
        if name not in installed:
            states[name] = f"not installed (pip install 'orchestratex[{name}]')"
        elif any(os.environ.get(v) for v in KNOWN_ENV_VARS.get(name, ())) or (
            name not in KNOWN_ENV_VARS and load_provider_class(name).is_configured()
        ):
            states[name] = "configured"
        else:
            states[name] = f"no key (set {key_hint(name)})"
    return states


def models_command(args: argparse.Namespace) -> int:
    from .._catalog_file import CATALOG_ENV, load_catalog_file

    path = getattr(args, "catalog", None) or os.environ.get(CATALOG_ENV)
    file = load_catalog_file(path) if path else None
    catalog = file.catalog if file is not None else ModelCatalog.default()
    states = provider_states(catalog)
    for name, spec in (file.providers if file is not None else {}).items():
        key_missing = spec.api_key_env and not os.environ.get(spec.api_key_env)
        states[name] = f"no key (set {spec.api_key_env})" if key_missing else "configured"
    if args.json:
        data = {
            "providers": states,
            "simulated": not any(s == "configured" for s in states.values()),
            "models": [m.model_dump(mode="json") for m in catalog],
            "aliases": catalog.aliases,
        }
        print(json.dumps(data, indent=2))
        return 0
    console = Console(highlight=False)
    for name, state in states.items():
        mark = "[green]✔[/]" if state == "configured" else "[red]✘[/]"
        console.print(f"{mark} {name}: {state}")
    if not any(s == "configured" for s in states.values()):
        console.print("[yellow]No provider is configured: `orchestratex run` uses the offline simulator.[/]")
    aliases: dict[str, list[str]] = {}
    for alias, target in catalog.aliases.items():
        aliases.setdefault(target, []).append(alias)
    table = Table(title="Model catalog (US$ per 1M tokens)")
    table.add_column("model (aliases)", no_wrap=True)
    for col in ("in $", "out $", "context", "max out"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("specialties", min_width=12, overflow="fold")
    for m in catalog:
        table.add_row(
            m.name
            + (f" [yellow]({m.status})[/]" if m.status != "active" else "")
            + (f"\n[dim]{', '.join(sorted(aliases[m.name]))}[/]" if m.name in aliases else ""),
            _price(m.input_cost_per_1k),
            _price(m.output_cost_per_1k),
            _tokens(m.context_window),
            _tokens(m.max_output_tokens),
            ", ".join(m.specialties),
        )
    console.print(table)
    return 0


def _price(per_1k: float | None) -> str:
    return "unpriced" if per_1k is None else f"{per_1k * 1000:.2f}"


def _tokens(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.3g}M"
    if n >= 1000:
        return f"{n // 1024}K" if n % 1024 == 0 else f"{n / 1000:.0f}K"
    return str(n)
