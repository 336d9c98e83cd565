"""Stores: where sessions, threads, orchestrations, events and statistics persist.

`open_store(url)` picks the store for a URL: `memory://`, `sqlite:///path.db`, or any scheme an
installed package registers under the `orchestratex.stores` entry point (`mongodb://` with
orchestratex-mongodb).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._base import (
    COMPOSED_FROM,
    SESSION_TRANSITIONS,
    Analytics,
    DomainUsage,
    ModelStats,
    ModelUsage,
    RoutingOutcome,
    RoutingStat,
    Started,
    Store,
    check_session_transition,
    fused,
)
from ._url import default_store_url, open_store, store_from_url
from .memory import MemoryStore

if TYPE_CHECKING:
    from .sqlite import SQLiteStore


def __getattr__(name: str) -> object:
    # SQLiteStore (and sqlite3) load on first use, keeping `import orchestratex` light
    if name == "SQLiteStore":
        from .sqlite import SQLiteStore

        return SQLiteStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "COMPOSED_FROM",
    "SESSION_TRANSITIONS",
    "Analytics",
    "DomainUsage",
    "MemoryStore",
    "ModelStats",
    "ModelUsage",
    "RoutingOutcome",
    "RoutingStat",
    "SQLiteStore",
    "Started",
    "Store",
    "check_session_transition",
    "default_store_url",
    "fused",
    "open_store",
    "store_from_url",
]
