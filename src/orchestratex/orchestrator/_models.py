"""The providers and models an orchestrator uses: its providers and catalog as given or found in the environment,
its judges, and the pools of routing candidates and judges read from the catalog."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping, Sequence

from .._awaited import check_async
from ..catalog import ModelCatalog, ModelProfile
from ..exceptions import ProviderNotConfigured, UnknownModelError, UserError
from ..providers import Provider, provider_names, providers_from_env
from ..providers._registry import key_hint

__all__ = ["ModelPools", "check_not_the_class", "judge_names", "providers_by_name", "resolve_providers"]


def resolve_providers(
    providers: Mapping[str, Provider] | Iterable[Provider] | None,
    catalog: ModelCatalog | str | os.PathLike[str] | None,
    simulate: bool | None,
    env: Mapping[str, str] | None,
) -> tuple[dict[str, Provider], ModelCatalog, bool, list[Provider]]:
    """`Orchestrator(providers=, catalog=, simulate=, env=)` resolved: the providers by name, the catalog, whether
    they are all simulated, and the providers made here (the orchestrator closes them)."""
    from .._catalog_file import CatalogFile, build_endpoints, env_catalog_path, load_catalog_file, load_env_catalog_file

    file: CatalogFile | None = None
    if catalog is not None and not isinstance(catalog, ModelCatalog | str | os.PathLike):
        check_not_the_class(catalog)
        raise UserError(
            f"catalog must be a ModelCatalog or the path of a catalog file (TOML or JSON), not {type(catalog).__name__}"
        )
    if isinstance(catalog, str | os.PathLike):
        file = load_catalog_file(catalog)
    elif catalog is None and providers is None and (path := env_catalog_path(env)):
        file = load_env_catalog_file(path)
    if file is not None:
        catalog = file.catalog
    base = catalog if isinstance(catalog, ModelCatalog) else ModelCatalog.default()
    if providers is not None:
        given = _given(providers)
        found = dict(providers) if isinstance(providers, Mapping) else _by_name(given)
        simulated = bool(found) and all(p.simulated for p in found.values())
        _check_simulate(simulate, found)
        if catalog is None:
            base = base.simulated() if simulated else base
            base = base._with_only(found)
        return found, base, simulated, []
    if simulate is not True:
        found = build_endpoints(base, env)  # the named endpoints of its catalog files
        names = [n for n in base.providers() if n in provider_names() and n not in found]
        found.update(providers_from_env(names, env))
        if found:
            return found, base._with_only(found), False, list(found.values())
        if simulate is False:
            wanted = " or ".join(f"{n} ({key_hint(n)})" for n in base.providers())
            raise ProviderNotConfigured(f"no provider is configured: set the API key of {wanted}", provider="*")
    from ..providers.simulated import SimulatedProvider

    sim = SimulatedProvider.from_env(env)
    return {"sim": sim}, base.simulated(), True, [sim]


def check_not_the_class(catalog: object) -> None:
    """`UserError` for `catalog=ModelCatalog`, the class where a catalog goes: it said "not type", which told nothing
    of what to write."""
    if isinstance(catalog, type) and issubclass(catalog, ModelCatalog):
        raise UserError(
            f"catalog={catalog.__name__} is the class, not a catalog: write catalog={catalog.__name__}.default() (the"
            f" shipped catalog), {catalog.__name__}.from_file(path) or {catalog.__name__}([ModelProfile(...), ...])"
        )


def _check_simulate(simulate: bool | None, found: Mapping[str, Provider]) -> None:
    """`UserError` for a `simulate=` the providers given contradict: it was ignored, so `simulate=True` with a real
    provider made real, paid calls."""
    real = sorted(name for name, p in found.items() if not p.simulated)
    if simulate is True and not found:  # (taken: each run then said to use Orchestrator(simulate=True), as given)
        raise UserError(
            "simulate=True, but providers= is empty: no model can answer. Leave providers out to simulate (or pass "
            "providers=[SimulatedProvider()])"
        )
    if simulate is True and real:
        raise UserError(
            f"simulate=True, but providers= gives providers that are not simulated ({', '.join(real)}), which "
            "would answer (and bill) instead: pass providers=[SimulatedProvider()], or leave providers out, to simulate"
        )
    if simulate is False and found and not real:
        raise UserError(
            f"simulate=False, but providers= gives only simulated ones ({', '.join(sorted(found))}): "
            "give a real provider, or leave simulate out"
        )


def _given(providers: object) -> list[Provider]:
    """The providers of `providers=` (a list, or the values of a mapping), each a `Provider` (`UserError` if not)."""
    if isinstance(providers, str | bytes) or not isinstance(providers, Mapping | Iterable):
        raise UserError(f"providers must be a list of providers (or a mapping of names to them), not {providers!r:.60}")
    given = list(providers.values() if isinstance(providers, Mapping) else providers)
    for provider in given:
        if isinstance(provider, type) and issubclass(provider, Provider):  # (it said "not ABCMeta <class '…'>")
            raise UserError(
                f"providers must hold Provider instances, not the class {provider.__name__}: write "
                f"providers=[{provider.__name__}()]"
            )
        if not isinstance(provider, Provider):
            raise UserError(
                "providers must hold Provider objects (FunctionProvider(fn), SimulatedProvider(), an adapter's), "
                f"not {type(provider).__name__} {provider!r:.60}"
            )
        _check_awaited(provider)
    return given


def _check_awaited(provider: Provider) -> None:
    """A provider of one's own whose `generate` (or `generate_stream`) is a plain `def`, as a router's
    `select` is refused: every run failed with "TypeError: object Generation can't be used in 'await' expression",
    stored `failed`. (`FunctionProvider.generate` is a plain `def` returning `generate_stream`'s coroutine.)"""
    from ..providers.function import FunctionProvider

    if type(provider).generate is not FunctionProvider.generate:
        check_async(provider, "generate", "request")
    check_async(provider, "generate_stream", "request, on_text")


def providers_by_name(providers: object) -> dict[str, Provider]:
    """`orchestrator.providers = ...` taken as `providers=` is (a list filed under each one's name, or a mapping of
    names to providers), checked as it is: a list was kept as it was, and every run then failed with
    `AttributeError: 'list' object has no attribute 'values'`."""
    given = _given(providers)
    if isinstance(providers, Mapping):
        for name in providers:
            if not isinstance(name, str) or not name:
                raise UserError(
                    f"providers' names must be non-empty strings (the prefix of their models' names), not {name!r}"
                )
        return dict(providers)
    return _by_name(given)


def _by_name(providers: Iterable[Provider]) -> dict[str, Provider]:
    """A list of providers keyed by their `name`, which each must have, once."""
    found: dict[str, Provider] = {}
    for provider in providers:
        name = getattr(provider, "name", None)
        if not isinstance(name, str) or not name:
            raise UserError(
                f'{type(provider).__name__} has no name: set the class attribute `name = "..."` (the prefix of its '
                f'models\' names in the catalog, as in `openai:gpt-4.1`), or pass providers={{"name": provider}}'
            )
        if name in found:
            raise UserError(
                f"two providers are named {name!r} ({type(found[name]).__name__} and {type(provider).__name__}): "
                f'pass providers={{"{name}": ..., "other": ...}} to name each one'
            )
        found[name] = provider
    return found


def judge_names(catalog: ModelCatalog, judges: Sequence[str] | None) -> list[str] | None:
    """`judges=` (of an orchestrator or a session) checked: the catalog's names of the models, each once (an alias and
    its model's name were kept as the name twice), or None."""
    if judges is None:
        return None
    if isinstance(judges, str | bytes | Mapping) or not isinstance(judges, Iterable) or not (judges := list(judges)):
        raise UserError(  # (`judges=5` was "TypeError: 'int' object is not iterable")
            "judges must be a non-empty list of model names (or None for every model)"
            + ("" if isinstance(judges, Iterable) else f", not {type(judges).__name__} {judges!r:.60}")
        )
    return list(dict.fromkeys(catalog.get(n).name for n in judges))


class ModelPools:
    """Routing candidates and judges, read from the catalog: each pool is kept until the catalog's version changes
    (a change to the catalog, or to the file it watches, shows at the next call)."""

    __slots__ = ("_cache", "_catalog", "_providers", "_version")

    def __init__(self) -> None:
        self._cache: dict[tuple[str, ...], list[ModelProfile]] = {}
        self._version = -1
        self._catalog: ModelCatalog | None = None
        """The catalog the pools were read from: another one (`orchestrator.catalog = ...`) may have the same version
        number, and its pools were then the former catalog's models."""
        self._providers: tuple[str, ...] = ()
        """The providers' names the pools were read with (`orchestrator.providers` may change: a provider added
        serves its models from the next call on, one removed no longer does)."""

    def get(
        self,
        catalog: ModelCatalog,
        providers: Mapping[str, Provider],
        key: tuple[str, ...],
        among: Sequence[str] | None,
        *,
        judges: bool,
    ) -> list[ModelProfile]:
        """The models of `catalog` not disabled, whose provider is in `providers` and whose price is known, among
        `among` when given; judge-only ones only with `judges`. `key` names the pool (with `among`)."""
        version, names = catalog.version, tuple(providers)
        if version != self._version or catalog is not self._catalog or names != self._providers:
            self._cache.clear()
            self._version, self._catalog, self._providers = version, catalog, names
        cached = self._cache.get(key)
        if cached is None:
            allowed = set()
            for name in among or ():
                with contextlib.suppress(UnknownModelError):  # a model since removed from the catalog
                    allowed.add(catalog.get(name).name)
            cached = [
                m
                for m in catalog
                if m.status != "disabled"
                and m.provider in providers
                and m.priced
                and (judges or not m.judge_only)
                and (not among or m.name in allowed)
            ]
            self._cache[key] = cached
        return cached
