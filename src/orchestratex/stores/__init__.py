"""Stores: where sessions, threads, orchestrations, events and statistics persist.

`open_store(url)` picks the store for a URL: `memory://`, `sqlite:///path.db`, or any scheme an
installed package registers under the `orchestratex.stores` entry point (`mongodb://` with
orchestratex-mongodb).
"""

from __future__ import annotations

from ._base import (
    SESSION_TRANSITIONS,
    Analytics,
    DomainUsage,
    ModelStats,
    ModelUsage,
    RoutingStat,
    Store,
    check_session_transition,
)
from ._url import default_store_url, open_store, store_from_url
from .memory import MemoryStore
from .sqlite import SQLiteStore

__all__ = [
    "SESSION_TRANSITIONS",
    "Analytics",
    "DomainUsage",
    "MemoryStore",
    "ModelStats",
    "ModelUsage",
    "RoutingStat",
    "SQLiteStore",
    "Store",
    "check_session_transition",
    "default_store_url",
    "open_store",
    "store_from_url",
]
