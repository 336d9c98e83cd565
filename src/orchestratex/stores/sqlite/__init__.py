"""`SQLiteStore`: the embedded default store (standard-library `sqlite3`, WAL, safe across processes)."""

from __future__ import annotations

from ._store import SQLiteStore

__all__ = ["SQLiteStore"]
