"""Translating `sqlite3` errors into the store's exception tree.

Every `SQLiteStore` write is one transaction that SQLite rolls back when it fails, so an error that
goes away on its own — another process holding the write lock past the busy timeout, an I/O error, a
full disk or database — becomes `StoreUnavailable` (`StoreFull` for a full disk): nothing was written and the
caller may retry.
Anything else (a constraint, a corrupt file, a bug) stays a plain `StoreError`.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ...exceptions import StoreError, StoreFull, StoreUnavailable

__all__ = [
    "TRANSIENT_CODES",
    "code_of",
    "disk_full",
    "free_space",
    "is_transient",
    "nearly_full",
    "not_writable",
    "translate",
]

_WRITABLE_HINT = (
    "the store writes the file and makes its -wal and -shm files beside it: make the file and its folder writable"
    " by this user, or use a database in a writable folder"
)

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
    if code_of(exc) == sqlite3.SQLITE_READONLY:  # (made read-only, or its file system remounted so, while in use)
        return StoreError(f"the SQLite database{on} cannot be written ({exc}): {_WRITABLE_HINT}; nothing was written")
    if is_transient(exc):
        name = getattr(exc, "sqlite_errorname", "") or "transient error"
        if code_of(exc) == sqlite3.SQLITE_FULL:  # (the disk: the database's own limit, max_page_count, is not set)
            return StoreFull(
                f"the SQLite database{on} cannot be written: its disk is full ({name}: {exc}): free some space;"
                " nothing was written"
            )
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


def not_writable(path: str) -> str | None:
    """Why this process cannot write the database at `path`, as a clause naming the path and what to fix, or None
    when nothing seems to keep it from writing (its failure had another cause).

    SQLite only says "unable to open database file" or "attempt to write a readonly database"."""
    file = Path(path)
    folder = next((p for p in (file.parent, *file.parent.parents) if p.exists()), file.parent)  # (the nearest made)
    try:
        read_only_fs = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        read_only_fs = False
    why = ""
    if read_only_fs:
        why = f"its file system (holding {str(folder)!r}) is mounted read-only"
    else:
        for each in (file, Path(f"{path}-wal"), Path(f"{path}-shm")):
            if each.exists() and not os.access(each, os.W_OK):
                why = f"{str(each)!r} is read-only"
                break
        else:
            missing = [s for s in ("-wal", "-shm") if not Path(f"{path}{s}").exists()]
            if (missing or folder != file.parent) and not os.access(folder, os.W_OK):
                why = f"its folder {str(folder)!r} is read-only"
    return f"cannot open SQLite database {path!r} for writing: {why}; {_WRITABLE_HINT}" if why else None


_NEARLY_FULL = 1 << 20
"""Free bytes under which a file system is taken as full: SQLite grows the `-shm` file 32 KiB at a time and writes
whole pages, so a file system with less than this left fails it when nearly, not only exactly, full."""


def disk_full(path: str, exc: sqlite3.Error) -> str:
    """A clause saying that the disk holding the database at `path` is full when `exc` is an I/O error or a full disk
    and it is (else ""): SQLite says only "disk I/O error" when it cannot grow the `-shm` file, which every
    connection maps, so that even `orchestratex runs list` fails on a full disk, naming no cause."""
    if code_of(exc) not in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL):
        return ""
    free = free_space(path)
    if free is None or free >= _NEARLY_FULL:
        return ""
    folder = Path(path).parent
    return (
        f"; the disk holding {str(folder)!r} is full ({free:,} bytes free): free some space (the store makes its -wal"
        " and -shm files beside the database even to read it); nothing was written"
    )


def free_space(path: str) -> int | None:
    """The bytes this process may still write on the file system holding the database at `path` (one `statvfs`,
    nothing written), or None when that cannot be told."""
    try:
        fs = os.statvfs(Path(path).parent)
    except OSError:
        return None
    return fs.f_bavail * fs.f_frsize


def nearly_full(free: int | None) -> bool:
    """Whether `free` bytes (`free_space`) leave a file system full for SQLite (`_NEARLY_FULL`)."""
    return free is not None and free < _NEARLY_FULL
