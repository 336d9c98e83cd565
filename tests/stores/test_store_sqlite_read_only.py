"""A SQLite database this process cannot write (a read-only file, folder or file system): SQLite only says
"unable to open database file" (taken for a passing failure, `StoreUnavailable`) or "attempt to write a readonly
database", naming neither the path nor what to change. The error now names both."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestratex.exceptions import StoreError, StoreUnavailable
from orchestratex.stores import SQLiteStore

from ..cli.conftest import run_cli

_HINT = "make the file and its folder writable by this user, or use a database in a writable folder"


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` read-only for this process: `chattr +i` for root (whom modes do not stop), else mode 0o555/0o444."""
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("root, and `chattr +i` is not available on this file system")
        try:
            yield
        finally:
            subprocess.run([chattr, "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
    assert os.access(path, os.W_OK)


def _make_database(path: Path) -> None:
    async def make() -> None:
        async with SQLiteStore(str(path)):
            pass

    asyncio.run(make())
    for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        extra.unlink(missing_ok=True)


def test_a_read_only_database_file_is_named_with_what_to_fix(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    _make_database(db)
    with read_only(db):
        done = run_cli("run", "Hello", "--max-iterations", "1", "--store", f"sqlite:///{db}")
        listed = run_cli("runs", "list", "--store", f"sqlite:///{db}")
    for each in (done, listed):
        assert each.returncode == 1, each
        assert each.stderr.splitlines() == [
            f"orchestratex: StoreError: cannot open SQLite database '{db}' for writing: '{db}' is read-only; the store"
            f" writes the file and makes its -wal and -shm files beside it: {_HINT}"
        ]


def test_a_read_only_folder_is_named_and_not_taken_for_a_passing_failure(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "runs.db"
    _make_database(db)
    with read_only(folder):
        done = run_cli("keys", "create", "alice", "--store", f"sqlite:///{db}")

        async def open_it() -> None:
            await SQLiteStore(str(db)).open()

        with pytest.raises(StoreError) as err:
            asyncio.run(open_it())
    assert done.returncode == 1 and done.stdout == ""
    assert f"cannot open SQLite database '{db}' for writing: its folder '{folder}' is read-only" in done.stderr
    assert not isinstance(err.value, StoreUnavailable)  # (it was: "unable to open database file", retried in vain)
    assert str(err.value).endswith(_HINT)


def test_a_new_database_in_a_read_only_folder_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    with read_only(folder):
        done = run_cli("run", "Hello", "--max-iterations", "1", "--store", f"sqlite:///{folder}/sub/runs.db")
    assert done.returncode == 1
    assert f"for writing: its folder '{folder}' is read-only" in done.stderr and _HINT in done.stderr


def test_a_database_made_read_only_while_in_use_says_what_to_fix(tmp_path: Path) -> None:
    # (a file system remounted read-only under a server): "SQLite error on …: attempt to write a readonly database"
    import sqlite3

    from orchestratex.stores.sqlite._errors import translate

    db = tmp_path / "runs.db"
    _make_database(db)
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as raw:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    error = translate(raw.value, repr(str(db)))
    assert type(error) is StoreError
    assert str(error) == (
        f"the SQLite database '{db}' cannot be written (attempt to write a readonly database): the store writes the"
        f" file and makes its -wal and -shm files beside it: {_HINT}; nothing was written"
    )
