"""The package accepts pydantic from 2.7 (pyproject.toml): no field may rely on a feature of a later one.

A `default_factory` that takes the validated data (`lambda data: data["created_at"]`) needs pydantic 2.10: 2.7 to 2.9
call it with no argument, and every new session failed to build (`missing 1 required positional argument`)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import tomllib
from pathlib import Path

from pydantic import BaseModel

import orchestratex

ROOT = Path(__file__).resolve().parents[1]


def _models() -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for info in pkgutil.walk_packages(orchestratex.__path__, "orchestratex."):
        if info.name.endswith("__main__") or any(f".{part}" in info.name for part in ("server", "lab", "cli")):
            continue  # (their extras' imports; their models are the API's, built the same way)
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == info.name:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def _needs_an_argument(factory: object) -> bool:
    try:
        parameters = inspect.signature(factory).parameters.values()  # type: ignore[arg-type]
    except ValueError:  # a builtin (`dict`, `list`): called with nothing
        return False
    return any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)


def test_the_declared_floor_is_the_one_this_test_guards() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    floor = next(re.search(r">=([\d.]+)", d).group(1) for d in deps if d.startswith("pydantic"))  # type: ignore[union-attr]
    assert floor == "2.7", "the floor moved: check what else the new one allows, then update this test"


def test_no_default_factory_reads_the_validated_data() -> None:
    models = _models()
    assert len(models) > 20  # (the records, events, settings: the walk found them)
    takes_data = [
        f"{model.__qualname__}.{name}"
        for model in models
        for name, field in model.model_fields.items()
        if field.default_factory is not None and _needs_an_argument(field.default_factory)
    ]
    assert takes_data == []
