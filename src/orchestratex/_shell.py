"""The IPython shell this code runs in, if any, found without importing IPython."""

from __future__ import annotations

import sys

__all__ = ["ipython_shell"]


def ipython_shell() -> object | None:
    """The running IPython shell (a Jupyter kernel's `ZMQInteractiveShell`, the IPython terminal's), or None."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    return get() if callable(get) else None
