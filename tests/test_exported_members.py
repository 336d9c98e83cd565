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


def test_import_stays_light() -> None:
    import subprocess
    import sys

    heavy = ("fastapi", "numpy", "openai", "anthropic", "google.genai", "pymongo", "sklearn", "rich")
    code = f"import sys, orchestratex; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert orchestratex.__version__
