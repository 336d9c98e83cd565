"""`SQLiteStore.ping` (the server's readiness check) fails when the file it opened is no longer the database."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestratex.exceptions import StoreError, StoreUnavailable
from orchestratex.records import Session
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


async def test_ping_keeps_the_processs_locks_so_no_other_process_deletes_the_wal(tmp_path: Path) -> None:
    """Closing any descriptor of a file drops every POSIX lock the process holds on it: a ping that opened the
    file itself made the store's connections look gone, and the next process to close its own connection took
    itself for the last one and deleted the WAL from under them (the file was then corrupt for good)."""
    db = tmp_path / "store.db"
    async with SQLiteStore(db) as store:
        await store.create_session(Session(user_id="alice"))
        await store.ping()
        other = (
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            "c.execute('SELECT 1 FROM sessions').fetchall(); c.close()"
        )
        subprocess.run([sys.executable, "-c", other, str(db)], check=True)
        assert Path(f"{db}-wal").exists() and Path(f"{db}-shm").exists()  # still this process's, in use
        assert [s.user_id for s in await store.list_sessions("alice")] == ["alice"]


async def test_a_relative_path_stays_the_file_it_named_after_a_change_of_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `os.chdir` (`%cd` in a notebook) after opening `SQLiteStore("runs.db")` made `ping` (the server's readiness)
    # fail with "deleted or replaced", as it looked for `runs.db` in the new working directory
    from orchestratex import Orchestrator

    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    (tmp_path / "here").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    store = SQLiteStore("runs.db")
    async with Orchestrator(store=store) as orchestrator:  # (the simulator)
        first = await orchestrator.run("Hello", max_iterations=1)
        monkeypatch.chdir(tmp_path / "elsewhere")
        await store.ping()
        second = await orchestrator.run("Hello again", max_iterations=1)
        listed = await store.list_orchestrations(limit=10)
        assert [o.id for o in listed] == [first.orchestration.id, second.orchestration.id]
        await store.ping()
    assert list((tmp_path / "elsewhere").iterdir()) == []
    async with SQLiteStore(tmp_path / "here" / "runs.db") as reopened:
        assert len(await reopened.list_orchestrations()) == 2
