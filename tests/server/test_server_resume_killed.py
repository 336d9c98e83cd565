"""A server restarted on the SQLite file of one that was killed (SIGKILL) with runs in flight, while another server
shares the file: the killed server's runs kept their leases until these expired (60 s), so the restarted server left
them `running` with nothing running them, and they held their user's concurrency slots (429 "already has 2
orchestrations running"). A lease names its process and the machine it ran on: the killed server's runs are resumed
at once, and the live server's run stays its own."""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

import httpx
import pytest

from .server_process import ServerProcess, create_key

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a lease names its machine on Linux only"),
]


def _status(client: httpx.Client, oid: str) -> str:
    r = client.get(f"/api/orchestration/status/{oid}")
    assert r.status_code == 200, r.text
    status: str = r.json()["status"]
    return status


def test_the_runs_of_a_killed_server_are_resumed_at_once_by_the_next_and_the_live_ones_left(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ox.db'}"
    headers = {"Authorization": f"Bearer {create_key(url, 'alice')}"}
    # leases that would outlast the test: a run resumed in it was resumed because its holder is known to be gone
    slow = {
        "ORCHESTRATEX_SIM_LATENCY_SCALE": "200",
        "ORCHESTRATEX_MAX_CONCURRENT": "2",
        "ORCHESTRATEX_LEASE_TTL_S": "3600",
        "ORCHESTRATEX_RATE_LIMIT": "100000",  # (polled for up to a minute)
    }
    with (
        ServerProcess(url, tmp_path, env=slow, name="killed") as killed,
        ServerProcess(url, tmp_path, env=slow, name="live") as live,
    ):
        with httpx.Client(base_url=killed.base_url, headers=headers, timeout=30) as client:
            sid = client.post("/api/sessions/", json={}).json()["_id"]
            tid = client.post("/api/threads/", json={"session_id": sid, "original_prompt": "Explain TCP"}).json()["_id"]
            left = client.post("/api/orchestration/start", json={"thread_id": tid}).json()["_id"]
        with httpx.Client(base_url=live.base_url, headers=headers, timeout=30) as client:
            kept = client.post("/api/orchestration/start", json={"thread_id": tid}).json()["_id"]
            assert client.post("/api/orchestration/start", json={"thread_id": tid}).status_code == 429  # (2 running)
        killed.kill()
        fast = {**slow, "ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}
        with ServerProcess(url, tmp_path, env=fast, name="restarted") as restarted:
            with httpx.Client(base_url=restarted.base_url, headers=headers, timeout=30) as client:
                deadline = time.monotonic() + 60
                while _status(client, left) in ("pending", "running"):
                    assert time.monotonic() < deadline, f"the killed server's run was not resumed:\n{restarted.log()}"
                    time.sleep(0.2)
                assert _status(client, left) == "completed"
                assert "resuming 1 orchestration(s) left by a stopped process" in restarted.log()
                # its slot is free; the live server's run still holds the other
                started = client.post("/api/orchestration/start", json={"thread_id": tid})
                assert started.status_code == 202, started.text
                assert _status(client, kept) == "running"
        with sqlite3.connect(tmp_path / "ox.db") as db:
            owner = db.execute("SELECT lease_owner FROM orchestrations WHERE id = ?", (kept,)).fetchone()[0]
        assert live.proc is not None and owner.startswith(f"{live.proc.pid}-")  # (not taken from the live server)
