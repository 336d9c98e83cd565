"""Translating `sqlite3` errors into the store's exception tree.

Every `SQLiteStore` write is one transaction that SQLite rolls back when it fails, so an error that
goes away on its own — another process holding the write lock past the busy timeout, an I/O error, a
full disk or database — becomes `StoreUnavailable`: nothing was written and the caller may retry.
Anything else (a constraint, a corrupt file, a bug) stays a plain `StoreError`.
"""

from __future__ import annotations

import sqlite3

from ...exceptions import StoreError, StoreUnavailable

__all__ = ["TRANSIENT_CODES", "code_of", "is_transient", "translate"]

TRANSIENT_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)
"""Primary result codes of failures that do not depend on the statement (an extended code's low byte)."""


def is_transient(exc: sqlite3.Error) -> bool:
    """Whether `exc` is a failure that passes (busy, locked, I/O, full): the statement itself was fine."""
    return code_of(exc) in TRANSIENT_CODES


def translate(exc: sqlite3.Error, where: str = "") -> StoreError:
    """The `StoreError` for `exc`; `where`, when given, names the database (left out of errors that may reach
    an API client)."""
    on = f" {where}" if where else ""
    if is_transient(exc):
        name = getattr(exc, "sqlite_errorname", "") or "transient error"
        if code_of(exc) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return StoreUnavailable(
                f"the SQLite database{on} is busy: another process held its write lock past the busy timeout"
                f" ({name}); nothing was written"
            )
        return StoreUnavailable(f"the SQLite database{on} is unavailable ({name}: {exc}); nothing was written")
    return StoreError(f"SQLite error{' on' + on if on else ''}: {exc}")


def code_of(exc: sqlite3.Error) -> int | None:
    """The primary result code of `exc` (its extended code's low byte), when SQLite gave one."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None
