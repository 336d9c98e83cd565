"""Readiness on a SQLite file: a file overwritten or deleted under a running server makes it not ready."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from orchestratex.stores import SQLiteStore

from .conftest import FAST, Api, in_app_loop
from .server_process import ServerProcess


def test_readiness_answers_503_once_the_database_file_is_overwritten(
    make_api: Callable[..., Api], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db = tmp_path / "server.db"
    api = make_api(store := SQLiteStore(db))
    request.addfinalizer(lambda: in_app_loop(api.client).call(store.close))  # (its checkpoint thread too)
    assert api.client.get("/health/ready").json() == {"status": "ready", "store": "ok"}
    with contextlib.closing(sqlite3.connect(db)) as conn:  # every page in the file: no checkpoint writes one back
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with db.open("r+b") as file:
        file.write(os.urandom(db.stat().st_size))
    r = api.client.get("/health/ready")
    assert r.status_code == 503 and r.json()["store"] == "unreachable"
    assert "no longer a SQLite database" in r.json()["detail"]
    assert api.client.get("/health").status_code == 200  # alive: a restart will not mend the file


def test_readiness_answers_503_once_the_database_file_is_deleted(
    make_api: Callable[..., Api], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db = tmp_path / "server.db"
    api = make_api(store := SQLiteStore(db))
    request.addfinalizer(lambda: in_app_loop(api.client).call(store.close))  # (its checkpoint thread too)
    assert api.client.get("/health/ready").status_code == 200
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    r = api.client.get("/health/ready")
    assert r.status_code == 503 and "was deleted or replaced" in r.json()["detail"]


def test_readiness_does_not_tell_where_the_database_is(
    make_api: Callable[..., Api], tmp_path: Path, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    """Anyone may ask `/health/ready` (no key): its answer names no file path; the server's log does."""
    db = tmp_path / "server.db"
    api = make_api(store := SQLiteStore(db))
    request.addfinalizer(lambda: in_app_loop(api.client).call(store.close))  # (its checkpoint thread too)
    db.rename(tmp_path / "moved.db")
    with caplog.at_level("WARNING", logger="orchestratex.server"):
        r = api.client.get("/health/ready")
    assert r.status_code == 503 and r.json()["store"] == "unreachable"
    assert str(tmp_path) not in r.text and "'<path>' was deleted or replaced" in r.json()["detail"]
    assert str(db) in caplog.text


def test_readiness_answers_503_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    """Another process holding the database's write lock (a `sqlite3` shell left in `BEGIN IMMEDIATE`, a stuck
    process): every write waited out the busy timeout and failed with 503, while `/health/ready` answered 200
    `ready`, since reads never wait for the lock, so the load balancer kept sending it requests that could not be
    written. It answers 503 saying why, and 200 again once the lock is let go."""
    db = tmp_path / "server.db"
    url = f"sqlite:///{db}"
    with ServerProcess(url, tmp_path, env=FAST) as server:
        assert httpx.get(f"{server.base_url}/health/ready").json() == {"status": "ready", "store": "ok"}
        with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as holder:
            holder.execute("BEGIN IMMEDIATE")
            not_ready = httpx.get(f"{server.base_url}/health/ready", timeout=30)
            holder.execute("ROLLBACK")
        assert not_ready.status_code == 503, not_ready.text
        assert not_ready.json() == {
            "detail": "not ready: the store is unreachable: another process has held the write lock of the SQLite"
            " database '<path>' for over 1 s: every write waits for it (up to 10 s), then fails",
            "status_code": 503,
            "store": "unreachable",
        }
        assert httpx.get(f"{server.base_url}/health/ready").json() == {"status": "ready", "store": "ok"}
    assert "another process has held the write lock of the SQLite database" in server.log()
