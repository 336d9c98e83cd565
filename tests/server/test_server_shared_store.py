"""Real server processes sharing one SQLite file with other processes: a cancel asked of one server stops the
run another drives, and a write lock another process holds stalls no read."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .server_process import ServerProcess, create_key

pytestmark = pytest.mark.slow

# an iteration takes >= 1 s, so no run ends by `no_improvement` (3 iterations) between being seen running and
# its cancel landing
SLOW = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "1.0", "ORCHESTRATEX_RATE_LIMIT": "100000"}
"""(With a rate limit the polls of `_wait_status` cannot reach: the default, 100 requests a minute per session, can be
reached by its 10 polls a second of runs slow to end on a loaded runner, and a 429's body has no `status`.)"""
ENDLESS = {"max_iterations": 10, "evaluation_threshold": 10}
# how long a run may take to end before the test calls it hung: no bound on how soon a cancel lands (a loaded
# machine stretches it), which `_stopped` checks by the run's iterations instead
HUNG_S = 180.0


def _client(server: ServerProcess, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _wait_status(client: httpx.Client, oid: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc: dict[str, Any] = client.get(f"/api/orchestration/status/{oid}").json()
        if doc["status"] in ("completed", "failed", "cancelled"):
            return doc
        time.sleep(0.1)
    raise AssertionError(f"orchestration {oid} did not end within {timeout} s")


def _start_running(client: httpx.Client, tid: str, count: int, started: list[str]) -> list[str]:
    """Start runs until `count` of them are still running a second later (every run started is appended to
    `started`). The simulated judges may score an answer 10, the highest threshold, which ends a run early."""
    running: list[str] = []
    for _ in range(5):
        batch = [
            client.post("/api/orchestration/start", json={"thread_id": tid, "settings": ENDLESS}).json()["_id"]
            for _ in range(count - len(running))
        ]
        started += batch
        time.sleep(1.0)
        running += [o for o in batch if client.get(f"/api/orchestration/status/{o}").json()["status"] == "running"]
        if len(running) >= count:
            return running
    raise AssertionError("no run kept running: every answer reached the threshold")


def _cancel_on_other(driver: httpx.Client, other: httpx.Client, tid: str, started: list[str]) -> str:
    """Start a run on `driver` and cancel it through `other` (202: the other process drives it); the run. A run seen
    running may still reach a 10 and end before the cancel lands (a 409 "has already ended (completed)", about 1 in 15
    on a loaded runner): another run is started then."""
    for _ in range(5):
        (oid,) = _start_running(driver, tid, 1, started)
        r = other.post(f"/api/orchestration/{oid}/cancel")
        if r.status_code == 409 and "has already ended (completed)" in r.text:
            continue
        assert r.status_code == 202, r.text
        return oid
    raise AssertionError("every run ended before its cancel landed")


def _iterations(client: httpx.Client, oid: str) -> int:
    return len(client.get(f"/api/orchestration/status/{oid}").json()["iterations"])


def _stopped(doc: dict[str, Any], iterations_when_asked: int) -> bool:
    """Whether the run ended by the cancel, or by an answer scored 10 in the iteration under way when the cancel
    was asked (`iterations_when_asked` were stored after it was asked). A run that ignored the cancel would go on
    to `max_iterations` or `no_improvement`, or to a 10 in a later iteration."""
    if doc["status"] == "cancelled":
        return bool(doc["stop_reason"] == "cancelled")
    return bool(
        doc["status"] == "completed"
        and doc["stop_reason"] == "threshold"
        and len(doc["iterations"]) <= iterations_when_asked + 1
    )


def _check_ledger(client: httpx.Client, sid: str, oids: list[str]) -> None:
    session = client.get(f"/api/sessions/{sid}").json()
    docs = [client.get(f"/api/orchestration/status/{oid}").json() for oid in oids]
    assert session["reserved_cost"] == 0
    assert session["total_cost"] == pytest.approx(sum(d["total_cost"] for d in docs), abs=1e-12)


def test_a_cancel_asked_of_one_server_stops_the_run_another_drives(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    key = create_key(url, "alice")
    with ServerProcess(url, tmp_path, env=SLOW, name="driver") as a, ServerProcess(url, tmp_path, env=SLOW) as b:
        with _client(a, key) as on_a, _client(b, key) as on_b:
            sid = on_a.post("/api/sessions/", json={"settings": {"cost_limit": 5.0}}).json()["_id"]
            tid = on_a.post("/api/threads/", json={"session_id": sid, "original_prompt": "Explain TCP"}).json()["_id"]
            started: list[str] = []
            oid = _cancel_on_other(on_a, on_b, tid, started)
            asked = _iterations(on_b, oid)
            doc = _wait_status(on_b, oid, timeout=HUNG_S)
            assert _stopped(doc, asked), doc
            events = on_b.get(f"/api/sessions/{sid}").json()  # the session is readable everywhere
            assert events["status"] == "active"
            for other in started:
                _wait_status(on_b, other, timeout=HUNG_S)
            _check_ledger(on_b, sid, started)

            # a session ended through one server stops the runs the other drives
            runs = _start_running(on_a, tid, 2, started)
            assert on_b.patch(f"/api/sessions/{sid}/status", json={"status": "cancelled"}).status_code == 200
            when_ended = {run: _iterations(on_a, run) for run in runs}
            for run in runs:
                doc = _wait_status(on_a, run, timeout=HUNG_S)
                assert _stopped(doc, when_ended[run]), doc
            for other in started:
                _wait_status(on_a, other, timeout=HUNG_S)
            _check_ledger(on_a, sid, started)
    assert "Traceback" not in a.log() and "Traceback" not in b.log()


_HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def test_reads_are_answered_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    db = tmp_path / "locked.db"
    url = f"sqlite:///{db}"
    key = create_key(url, "alice")
    with ServerProcess(url, tmp_path) as server, _client(server, key) as client:
        sid = client.post("/api/sessions/", json={}).json()["_id"]
        client.post("/api/threads/", json={"session_id": sid, "original_prompt": "Explain TCP"})
        holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(db), "25"], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            began = time.monotonic()
            for path in (f"/api/sessions/{sid}", f"/api/threads/session/{sid}", f"/api/analytics/session/{sid}"):
                r = client.get(path)
                assert r.status_code == 200, r.text
            assert time.monotonic() - began < 5  # not the 10 s a write waits for the lock
            # a write waits for the lock up to the busy timeout (10 s; after a counter write the first read
            # gave up on, which waits as long), then answers 503
            r = client.post("/api/threads/", json={"session_id": sid, "original_prompt": "Explain UDP"})
            assert r.status_code == 503, r.text
            assert r.headers["Retry-After"] == "1"
            assert "database is unavailable" in r.json()["detail"]
            assert str(tmp_path) not in r.text
        finally:
            holder.wait(timeout=60)
            assert holder.stdout is not None
            holder.stdout.close()
        r = client.post("/api/threads/", json={"session_id": sid, "original_prompt": "Explain UDP"})
        assert r.status_code == 201, r.text
    assert "Traceback" not in server.log()
