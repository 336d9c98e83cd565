"""Ending a session through a real `orchestratex serve` process while its runs are going: the answer is the session as
its stopped runs left it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from .server_process import ServerProcess, create_key

pytestmark = pytest.mark.slow

SLOW = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "1.0"}
"""Simulated calls of a second or so: the runs are still going when the session ends."""


@pytest.mark.parametrize("status", ["completed", "cancelled"])
def test_the_answer_to_ending_a_session_shows_what_its_stopped_runs_left(tmp_path: Path, status: str) -> None:
    """The answer to `PATCH …/status` showed the session as it was before its runs were stopped: the reservations of
    their calls in flight still held (`reserved_cost` > 0) in a session that can spend nothing more."""
    url = f"sqlite:///{tmp_path / 'ending.db'}"
    key = create_key(url, "alice")
    with (
        ServerProcess(url, tmp_path, env=SLOW) as server,
        httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api,
    ):
        sid = api.post("/api/sessions/", json={"max_iterations": 10, "settings": {"cost_limit": 5.0}}).json()["_id"]
        tid = api.post("/api/threads/", json={"session_id": sid, "original_prompt": "Explain TCP"}).json()["_id"]
        endless = {"thread_id": tid, "settings": {"evaluation_threshold": 10}}
        runs = [api.post("/api/orchestration/start", json=endless).json()["_id"] for _ in range(2)]
        deadline = time.monotonic() + 20
        while api.get(f"/api/sessions/{sid}").json()["reserved_cost"] == 0:  # (a call in flight)
            assert time.monotonic() < deadline, "no run reserved anything"
            time.sleep(0.05)
        r = api.patch(f"/api/sessions/{sid}/status", json={"status": status})
        assert r.status_code == 200, r.text
        ended = r.json()
        assert ended["status"] == status
        assert ended["reserved_cost"] == 0
        docs = [api.get(f"/api/orchestration/status/{oid}").json() for oid in runs]
        assert {d["status"] for d in docs} <= {"cancelled", "completed"}
        assert ended["total_cost"] == pytest.approx(sum(d["total_cost"] for d in docs), abs=1e-12)
        assert ended == api.get(f"/api/sessions/{sid}").json()
    assert "Traceback" not in server.log()
