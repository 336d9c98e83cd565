"""`orchestratex serve` stopped (SIGTERM) while another process holds the SQLite store's write lock: each hand-back
commit waited the store's busy timeout (10 s) and was retried as a step's commit is, six times, so the stop took a
minute or more (Kubernetes kills a pod 30 s after SIGTERM, docs/server.md says the hand-back takes milliseconds).
The hand-back now gives up once another attempt would end past 10 s, without waiting for the lease's release: the
server exits, the run stays `running` for the next server to resume once its lease has expired."""

from __future__ import annotations

import re
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from .server_process import ServerProcess, create_key

pytestmark = pytest.mark.slow

ENV = {
    "ORCHESTRATEX_SIM_LATENCY_SCALE": "20.0",  # (a model call lasts well past the stop)
    "ORCHESTRATEX_SHUTDOWN_GRACE_S": "0",
    "ORCHESTRATEX_RATE_LIMIT": "100000",
}
HUNG_S = 180.0


def _logged(server: ServerProcess, pattern: str) -> None:
    deadline = time.monotonic() + HUNG_S
    while time.monotonic() < deadline:
        if re.search(pattern, server.log()):
            return
        time.sleep(0.1)
    raise AssertionError(f"the server did not log {pattern!r}:\n{server.log()}")


def test_a_stop_with_a_busy_store_hands_back_once_and_exits(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    url = f"sqlite:///{db}"
    key = create_key(url, "alice")
    with (
        ServerProcess(url, tmp_path, ENV) as server,
        httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client,
    ):
        session = client.post("/api/sessions/", json={"user_id": "alice", "settings": {"cost_limit": 1.0}}).json()
        thread = client.post(
            "/api/threads/", json={"session_id": session["_id"], "original_prompt": "Write a sort function"}
        ).json()
        started = client.post("/api/orchestration/start", json={"thread_id": thread["_id"]})
        assert started.status_code == 202, started.text
        oid = started.json()["_id"]
        _logged(server, rf"orchestratex\.routing INFO routing orchestration_id={oid}")  # its first call is under way
        lock = sqlite3.connect(db, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            assert server.proc is not None
            server.proc.send_signal(signal.SIGTERM)
            server.proc.wait(HUNG_S)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        log = server.log()
    assert f"handing back 1 orchestration(s) still running, for the next server on this store to resume: {oid}" in log
    assert f"committing orchestration {oid} failed (attempt" not in log, log  # tried once: no retry
    with sqlite3.connect(db) as conn:
        status, owner = conn.execute("SELECT status, lease_owner FROM orchestrations WHERE id = ?", (oid,)).fetchone()
    assert status == "running"
    assert owner is not None  # (its lease expires: released, it would have waited for the store once more)
