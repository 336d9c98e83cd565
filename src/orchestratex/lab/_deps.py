"""Optional dependencies of the lab, with an install hint when they are missing."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]

_HINT = "pip install 'orchestratex[lab]'"


def require(module: str) -> ModuleType:
    """Import `module` (numpy, sklearn, scipy, matplotlib…) or fail with the command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"the routing lab needs {module.split('.')[0]!r}: {_HINT}") from exc
