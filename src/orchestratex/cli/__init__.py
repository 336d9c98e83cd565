"""The `orchestratex` command line: `run`, `demo`, `models`, `serve`, `keys`."""

from __future__ import annotations

from ._main import main

__all__ = ["main"]
