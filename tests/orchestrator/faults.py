"""Faults injected into a real SQLite store: another process holding the write lock, I/O errors inside a
transaction, a full database (`PRAGMA max_page_count`); and a store that misses runs' final commits (`EndLost`)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestratex import MemoryStore, SQLiteStore
from orchestratex.exceptions import StoreUnavailable

__all__ = ["EndLost", "FaultyConnection", "LockHolder", "io_error", "limit_pages", "unlimit_pages"]

_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
"""


class LockHolder:
    """A second process holding SQLite's write lock on `path` from `start()` until `stop()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.proc: subprocess.Popen[str] | None = None
        self.times = 0

    def start(self) -> None:
        proc = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(self.path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "locked", f"the lock holder did not start: {line!r}"
        self.proc = proc
        self.times += 1

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("\n")
        proc.stdin.close()
        proc.wait(10)
        proc.stdout.close()


def io_error(name: str = "SQLITE_IOERR_WRITE", code: int = sqlite3.SQLITE_IOERR | (3 << 8)) -> sqlite3.OperationalError:
    """An error as SQLite raises it for a failed write (`disk I/O error`)."""
    exc = sqlite3.OperationalError("disk I/O error")
    exc.sqlite_errorcode = code
    exc.sqlite_errorname = name
    return exc


class FaultyConnection:
    """Wraps a store's `sqlite3.Connection`; `fail(sql)` returning an exception makes that statement raise it
    (after the statements before it in the transaction ran: SQLite must roll them back)."""

    def __init__(self, conn: sqlite3.Connection, fail: Callable[[str], BaseException | None]) -> None:
        self._conn = conn
        self._fail = fail
        self.injected = 0

    def _check(self, sql: str) -> None:
        exc = self._fail(sql)
        if exc is not None:
            self.injected += 1
            raise exc

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._check(sql)
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._check(sql)
        return self._conn.executemany(sql, *args)

    def cursor(self) -> _FaultyCursor:
        return _FaultyCursor(self._conn.cursor(), self._check)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    @staticmethod
    def install(store: SQLiteStore, fail: Callable[[str], BaseException | None]) -> FaultyConnection:
        conn = store._conn
        assert conn is not None, "open the store first"
        faulty = FaultyConnection(conn, fail)
        store._conn = faulty  # type: ignore[assignment]
        return faulty


class _FaultyCursor:
    """A cursor of a `FaultyConnection`: its statements fail as the connection's do (the store runs a write's
    statements, and its transaction's, on one cursor)."""

    def __init__(self, cursor: sqlite3.Cursor, check: Callable[[str], None]) -> None:
        self._cursor = cursor
        self._check = check

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._check(sql)
        return self._cursor.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._check(sql)
        return self._cursor.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


async def limit_pages(store: SQLiteStore) -> int:
    """Make the database full: no page may be added beyond those it has (`PRAGMA max_page_count`)."""

    def limit() -> int:
        conn = store._db
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        (new,) = conn.execute(f"PRAGMA max_page_count = {int(pages)}").fetchone()
        return int(new)

    return await store._run(limit)


async def unlimit_pages(store: SQLiteStore) -> None:
    await store._run(lambda: store._db.execute("PRAGMA max_page_count = 1073741823").fetchone())


class EndLost(MemoryStore):
    """A store that refuses the final commit of a run (unreachable) `failures` times, then takes it."""

    failures = 0

    async def commit_step(self, orchestration: Any, *args: Any, **kwargs: Any) -> Any:
        if orchestration.status != "running" and self.failures > 0:
            self.failures -= 1
            raise StoreUnavailable("connection refused")
        return await super().commit_step(orchestration, *args, **kwargs)
