"""Two `orchestratex serve` processes on one SQLite file, one of them paused (SIGSTOP: a stopped container, a
suspended VM) past its runs' lease while their model calls were under way. The other resumed and completed those
runs; when the paused one went on, its lease renewal took the now free leases back and its commits wrote its stale
runs over the completed ones: each run completed twice, the other process's iterations lost, and the session's
`total_cost` no longer the sum of its runs'. The paused process now finds each run written by another since it last
wrote it and lets it go (`suspended`), leaving the completed runs as they were."""

from __future__ import annotations

import re
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestratex.usage import add_costs

from .server_process import ServerProcess, create_key

pytestmark = pytest.mark.slow

ENV = {
    "ORCHESTRATEX_SIM_LATENCY_SCALE": "1.0",  # (calls of a second or more: the pause falls within one)
    "ORCHESTRATEX_LEASE_TTL_S": "2",
    "ORCHESTRATEX_RESUME_INTERVAL_S": "0.5",
    "ORCHESTRATEX_RATE_LIMIT": "100000",  # (the test polls)
}
HUNG_S = 180.0


def _ended(client: httpx.Client, oid: str) -> dict[str, Any]:
    deadline = time.monotonic() + HUNG_S
    while time.monotonic() < deadline:
        got = client.get(f"/api/orchestration/status/{oid}")
        assert got.status_code == 200, got.text
        doc: dict[str, Any] = got.json()
        if doc["status"] in ("completed", "failed", "cancelled"):
            return doc
        time.sleep(0.5)
    raise AssertionError(f"orchestration {oid} did not end within {HUNG_S} s")


def _logged(server: ServerProcess, pattern: str) -> re.Match[str]:
    """The first match of `pattern` in the server's log, once it is there."""
    deadline = time.monotonic() + HUNG_S
    while time.monotonic() < deadline:
        found = re.search(pattern, server.log())
        if found is not None:
            return found
        time.sleep(0.1)
    raise AssertionError(f"the server did not log {pattern!r} within {HUNG_S} s:\n{server.log()}")


def _let_go(server: ServerProcess, oid: str) -> str:
    """How the paused server ended its part in run `oid`, once its log says: `suspended` or `stop`."""
    return _logged(
        server, rf"orchestratex\.orchestrator (?:INFO|WARNING) (suspended|stop) orchestration_id={oid}"
    ).group(1)


def test_a_paused_server_does_not_write_over_the_runs_another_completed_meanwhile(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    url = f"sqlite:///{db}"
    key = create_key(url, "alice")
    headers = {"Authorization": f"Bearer {key}"}
    with (
        ServerProcess(url, tmp_path, ENV, name="paused") as a,
        ServerProcess(url, tmp_path, ENV, name="other") as b,
        httpx.Client(base_url=a.base_url, headers=headers, timeout=30) as on_a,
        httpx.Client(base_url=b.base_url, headers=headers, timeout=30) as on_b,
    ):
        session = on_a.post("/api/sessions/", json={"user_id": "alice", "settings": {"cost_limit": 1.0}}).json()
        runs = []
        for _ in range(2):
            thread = on_a.post(
                "/api/threads/", json={"session_id": session["_id"], "original_prompt": "Write a sort function"}
            ).json()
            started = on_a.post(
                "/api/orchestration/start",
                json={"thread_id": thread["_id"], "settings": {"max_iterations": 2, "evaluation_threshold": 9.9}},
            )
            assert started.status_code == 202, started.text
            runs.append(started.json()["_id"])
        for oid in runs:  # each run's first call is under way on A
            _logged(a, rf"orchestratex\.routing INFO routing orchestration_id={oid}")
        assert a.proc is not None
        a.proc.send_signal(signal.SIGSTOP)
        try:
            completed_by_b = {oid: _ended(on_b, oid) for oid in runs}  # resumed once A's leases expired
        finally:
            a.proc.send_signal(signal.SIGCONT)

        assert [_let_go(a, oid) for oid in runs] == ["suspended", "suspended"]
        after = {oid: on_b.get(f"/api/orchestration/status/{oid}").json() for oid in runs}
        ledger = on_b.get(f"/api/sessions/{session['_id']}").json()

    for oid in runs:
        assert after[oid]["status"] == "completed"
        assert after[oid]["iterations"] == completed_by_b[oid]["iterations"]
        assert after[oid]["total_cost"] == completed_by_b[oid]["total_cost"]
    with sqlite3.connect(db) as conn:
        ends = conn.execute(
            "SELECT orchestration_id, COUNT(*) FROM events WHERE session_id = ?"
            ' AND doc LIKE \'%"type":"orchestration_completed"%\' GROUP BY orchestration_id',
            (session["_id"],),
        ).fetchall()
    assert sorted(ends) == sorted((oid, 1) for oid in runs)
    assert ledger["total_cost"] == add_costs(*(after[oid]["total_cost"] for oid in runs))
    assert ledger["reserved_cost"] == 0.0
