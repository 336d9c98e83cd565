"""Which providers a run uses: `--provider` (a name, a list, `sim`) against the catalog (`--catalog FILE`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..catalog import ModelCatalog
from ..exceptions import ProviderNotConfigured, UserError
from ..orchestrator import Orchestrator
from ..providers import provider_names
from ..stores import Store

if TYPE_CHECKING:
    from .._catalog_file import CatalogFile
from ._models import CatalogSetup, catalog_setup

__all__ = ["parse_providers", "run_orchestrator"]

OrchestratorFactory = Callable[[Store], Orchestrator]

_ALONE = ("sim", "auto")
"""`sim` forces the simulator for every model, `auto` is the default: neither can be one of a list."""


def parse_providers(text: str) -> list[str]:
    """`--provider`'s value: one name, or a comma-separated list of them."""
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        # (not "of the catalog's (openai,anthropic)": a catalog file may have neither, and the shipped one has gemini)
        raise argparse.ArgumentTypeError(
            "give a provider: sim, or one or more of the catalog's, comma-separated (`orchestratex models` lists them)"
        )
    alone = [n for n in names if n in _ALONE]
    if alone and len(names) > 1:
        raise argparse.ArgumentTypeError(
            f"{alone[0]!r} cannot be combined with other providers: give it alone, or list only real providers"
        )
    return names


def run_orchestrator(args: argparse.Namespace, file: CatalogFile | None) -> OrchestratorFactory:
    """How `orchestratex run` makes its orchestrator on a store: with every configured provider (the simulator
    when none is), the simulator alone (`--provider sim`), or only the named providers — each of which must be
    in the catalog and configured, which is checked now, before any store is opened. `file` is the catalog file
    read (see `catalog_file`), None for the shipped catalog."""
    names: list[str] = getattr(args, "provider", None) or ["auto"]
    catalog = None if file is None else file.catalog  # (its named endpoints with it: the orchestrator builds them)
    if names == ["auto"]:
        return lambda store: Orchestrator(store=store, catalog=catalog)
    if names == ["sim"]:
        return lambda store: Orchestrator(store=store, simulate=True, catalog=catalog)
    setup = catalog_setup(file)
    _check_known(names, setup)
    unusable = [setup.states[n] for n in names if not setup.states[n].configured]
    if unusable:
        first = unusable[0]
        raise ProviderNotConfigured(
            "; ".join(f"provider {s.name!r} cannot be used: {s.describe()}" for s in unusable),
            provider=first.name,
            env_var=first.key_env,
        )
    _check_models_of(names, args.models, setup)
    if args.models is None:  # route only to the named providers' models
        # (stored with the run, as its preferred models: a server resuming it, detached or left by a crash, has a
        # catalog of its own, and routed the rest of a `--provider openai` run to any provider it had a key of)
        args.models = [m.name for m in setup.catalog if m.provider in names]
    # its judges too, stored with its session: a server resuming the run judged it with any model it had a key of; and
    # a catalog file's other endpoints are left out (`--provider ollama` of a file naming a paid endpoint too, whose key
    # was set, had its answers judged there: sent to, and paid to, a provider the command left out)
    args.judges = [m.name for m in setup.catalog if m.provider in names]
    args.left_out = [n for n, state in setup.states.items() if n not in names and n != "sim" and state.configured]
    return lambda store: Orchestrator(store=store, catalog=setup.catalog.with_only(names), simulate=False)


def _check_models_of(names: list[str], models: list[str] | None, setup: CatalogSetup) -> None:
    """`UserError` for a `--models` name that is a model of a provider `--provider` leaves out: it was said to be an
    "unknown model 'claude'" (the catalog it was looked up in held only the providers named), and with a catalog
    file it was routed to anyway, `--provider` ignored."""
    from ..exceptions import UnknownModelError

    for name in models or ():
        try:
            model = setup.catalog.get(name)
        except UnknownModelError:
            continue  # (the run says it is unknown, with the names it knows)
        if model.provider not in names:
            shown = name if name == model.name else f"{name} ({model.name})"
            raise UserError(
                f"--models {shown} is a model of {model.provider}, which --provider {','.join(names)} leaves out: "
                f"name models of {', '.join(names)}, or add {model.provider} (--provider {','.join(names)},"
                f"{model.provider})"
            )


def _check_known(names: list[str], setup: CatalogSetup) -> None:
    known = list(dict.fromkeys(["sim", *setup.catalog.providers(), *setup.endpoints]))
    for name in names:
        if name in known:
            continue
        if setup.source is not None and (name in provider_names() or name in ModelCatalog.default().providers()):
            raise UserError(
                f"the catalog {setup.source} has no {name} model (its providers: {', '.join(known)}): "
                f"add {name}: models to it, or name one of its providers"
            )
        if setup.source is None and name in provider_names():  # (installed: `ollama`, `vllm` … of the OpenAI adapter)
            # (it was an "unknown provider 'ollama'", set up with OLLAMA_BASE_URL as the docs say)
            raise UserError(
                f"the shipped catalog has no {name} model (its providers: {', '.join(known)}): name its models in a"
                " catalog file (--catalog FILE)"
            )
        raise UserError(f"unknown provider {name!r}; known: {', '.join(known)}")
