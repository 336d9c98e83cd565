"""Closing a SQLite store leaves the database whole in its file: the WAL checkpointed into it and deleted."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from orchestratex.records import Session
from orchestratex.stores import SQLiteStore


async def test_a_closed_store_leaves_only_its_file_and_a_copy_of_it_holds_every_write(tmp_path: Path) -> None:
    # about one close in thirty left `runs.db-wal` and `runs.db-shm` behind (the store's threads closed their
    # connections at the same time, each seeing another still open, so none checkpointed the WAL): the last writes
    # were in the WAL only, and a copy of `runs.db` made once `orchestratex run` had ended (a backup) missed them, its
    # tables even. Many closes, so that the race shows; each must leave the file alone and whole.
    for n in range(200):
        folder = tmp_path / str(n)
        folder.mkdir()
        async with SQLiteStore(folder / "runs.db") as store:
            await store.create_session(Session(user_id="alice"))
        assert sorted(p.name for p in folder.iterdir()) == ["runs.db"], n
        backup = tmp_path / "backup.db"
        shutil.copyfile(folder / "runs.db", backup)
        with sqlite3.connect(backup) as copy:
            assert copy.execute("SELECT count(*) FROM sessions").fetchone() == (1,), n
        backup.unlink()
