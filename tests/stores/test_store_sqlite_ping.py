"""`SQLiteStore.ping` (the server's readiness check) fails when the file it opened is no longer the database."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestratex.exceptions import StoreError, StoreUnavailable
from orchestratex.stores import SQLiteStore


def _overwrite(db: Path) -> None:
    with contextlib.closing(sqlite3.connect(db)) as conn:  # every page in the file: no checkpoint writes one back
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with db.open("r+b") as file:
        file.write(os.urandom(db.stat().st_size))


def _delete(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def _replace(db: Path) -> None:
    _delete(db)
    db.write_bytes(b"")


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        (_overwrite, StoreError, "is no longer a SQLite database"),
        (_delete, StoreUnavailable, "was deleted or replaced since this store opened it"),
        (_replace, StoreUnavailable, "was deleted or replaced since this store opened it"),
    ],
)
async def test_ping_fails_once_the_file_is_not_the_database_it_opened(
    tmp_path: Path, damage: Callable[[Path], None], error: type[StoreError], message: str
) -> None:
    db = tmp_path / "store.db"
    async with SQLiteStore(db) as store:
        await store.ping()
        damage(db)
        with pytest.raises(error, match=message):
            await store.ping()


async def test_ping_of_a_database_in_memory_reads_it(tmp_path: Path) -> None:
    async with SQLiteStore(":memory:") as store:
        await store.ping()
