"""The public API is exactly what `__all__` lists (as httpx's tests/test_exported_members.py)."""

from __future__ import annotations

import importlib

import pytest

import orchestratex

PACKAGES = [
    "orchestratex",
    "orchestratex.providers",
    "orchestratex.routing",
    "orchestratex.evaluation",
    "orchestratex.stores",
    "orchestratex.stores.aggregate",
    "orchestratex.stores.checks",
    "orchestratex.testing.fixtures",
    "orchestratex.testing.runs",
    "orchestratex.orchestrator",
    "orchestratex.exceptions",
    "orchestratex.events",
    "orchestratex.records",
    "orchestratex.telemetry",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n)) or exported == sorted(exported)
    public = {n for n in dir(module) if not n.startswith("_") and not _is_submodule(module, n)}
    public -= {"annotations", "logger", "TYPE_CHECKING", "T"}
    missing = {n for n in exported if not hasattr(module, n)}
    assert not missing
    if name == "orchestratex":
        assert public - set(exported) <= set(), public - set(exported)


def _is_submodule(module: object, name: str) -> bool:
    return type(getattr(module, name)).__name__ == "module"


_HEAVY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "numpy",
    "scipy",
    "sklearn",
    "openai",
    "anthropic",
    "google.genai",
    "pymongo",
    "httpx",
    "sqlite3",
    "rich",
)


def _loaded_after(code: str) -> list[str]:
    import subprocess
    import sys

    probe = f"import sys; {code}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return out.split()


def test_import_stays_light() -> None:
    """`import orchestratex` loads the package module alone; its names load their modules on first use."""
    loaded = _loaded_after("import orchestratex")
    assert [m for m in loaded if m.startswith("orchestratex")] == ["orchestratex"]
    assert "pydantic" not in loaded and "asyncio" not in loaded
    assert orchestratex.__version__


def test_the_orchestrator_loads_no_heavy_module() -> None:
    """Building an orchestrator and its default store loads no vendor SDK, server, numpy, pymongo or sqlite3."""
    code = (
        "from orchestratex import FunctionProvider, MemoryStore, Orchestrator; "
        "Orchestrator(providers=[FunctionProvider(lambda r: 'ok')], store=MemoryStore())"
    )
    loaded = set(_loaded_after(code))
    assert [m for m in _HEAVY if m in loaded] == []
    assert "orchestratex.orchestrator" in loaded


def test_the_orchestrator_import_builds_no_validator() -> None:
    """Every model and `TypeAdapter` on the way to `Orchestrator` builds on first use: one built at import made
    pydantic generate its first schema there (and look its plugins up through `importlib.metadata`), a quarter of
    the import's time."""
    import subprocess
    import sys

    probe = """
import sys
from orchestratex import Orchestrator
from pydantic import BaseModel, TypeAdapter
modules = [(name, m) for name, m in list(sys.modules.items()) if name.startswith("orchestratex")]
built = [
    f"{name}.{attr}"
    for name, module in modules
    for attr, value in vars(module).items()
    if isinstance(value, type) and issubclass(value, BaseModel) and value.__pydantic_complete__
    or isinstance(value, TypeAdapter) and value.pydantic_complete
]
print(" ".join(sorted(set(built))), "metadata" if "importlib.metadata" in sys.modules else "")
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == []


def test_lazy_names_are_the_real_objects() -> None:
    from orchestratex.orchestrator import Orchestrator
    from orchestratex.stores.sqlite import SQLiteStore

    assert orchestratex.Orchestrator is Orchestrator
    assert orchestratex.SQLiteStore is SQLiteStore
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        orchestratex.Nope  # noqa: B018


def test_a_routers_contract_imports_from_one_place() -> None:
    # `from orchestratex.routing import Router, RoutingDecision, Task` (what a router of one's own needs, as the
    # routing page shows the contract) failed with an ImportError: `RoutingDecision` was only in `orchestratex`
    from orchestratex import RoutingDecision, routing
    from orchestratex.routing import RoutingDecision as FromRouting

    assert FromRouting is RoutingDecision and {"Router", "RoutingDecision", "Task"} <= set(routing.__all__)


def test_help_of_the_testing_package_names_each_of_its_modules() -> None:
    """`help(orchestratex.testing)` named the two contract suites only: `fixtures` (what a user's `conftest.py` imports)
    and `runs` were found only by reading the source, and "they need pytest" was said of `runs` too."""
    import pkgutil

    import orchestratex.testing

    doc = orchestratex.testing.__doc__ or ""
    modules = [m.name for m in pkgutil.iter_modules(orchestratex.testing.__path__) if not m.name.startswith("_")]
    assert sorted(modules) == ["fixtures", "provider_contract", "runs", "store_contract"]
    for module in modules:
        assert f"`orchestratex.testing.{module}`" in doc, module
