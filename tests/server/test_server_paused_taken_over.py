"""A server paused past its leases (SIGSTOP, a frozen VM or container) while another server on the store resumed its
run and finished it: once it runs again, the paused one's commit of the call it had under way is refused. It said so
in one INFO line, `suspended`, without an error, as for a graceful hand-back, and its resume loop said nothing: an
operator saw the call it paid for in its log and metrics, and nothing of it in the run's cost, with nothing to say
why. Its line is now a WARNING naming the refusal (its lease lapsed, another process took the run over)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .server_process import ServerProcess, create_key

pytestmark = pytest.mark.slow

LEASE = {"ORCHESTRATEX_LEASE_TTL_S": "2", "ORCHESTRATEX_RESUME_INTERVAL_S": "0.5", "ORCHESTRATEX_LOG_FORMAT": "json"}


def _lines(server: ServerProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]


def _until(what: str, found: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := found()):
        assert time.monotonic() < deadline, what
        time.sleep(0.1)
    return result


def test_a_paused_server_whose_run_was_taken_over_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    key = create_key(url, "alice")
    slow = {**LEASE, "ORCHESTRATEX_SIM_LATENCY_SCALE": "3"}  # (its first call is under way when it is paused)
    fast = {**LEASE, "ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}
    with ServerProcess(url, tmp_path, slow, name="paused") as paused, ServerProcess(url, tmp_path, fast) as other:
        with httpx.Client(base_url=paused.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            session = client.post("/api/sessions/", json={"user_id": "alice"}).json()
            thread = client.post("/api/threads/", json={"session_id": session["_id"], "original_prompt": "p"}).json()
            started = client.post(
                "/api/orchestration/start",
                json={"thread_id": thread["_id"], "prompt": "Write a sort function", "settings": {"max_iterations": 1}},
            )
        assert started.status_code == 202, started.text
        oid = started.json()["_id"]
        _until("its call began", lambda: any(line.get("event") == "routing" for line in _lines(paused)))
        assert paused.proc is not None
        os.kill(paused.proc.pid, signal.SIGSTOP)
        try:
            with httpx.Client(base_url=other.base_url, headers={"Authorization": f"Bearer {key}"}) as client:
                done = _until(
                    "the other server did not finish the run",
                    lambda: (
                        (doc := client.get(f"/api/orchestration/status/{oid}").json())["status"]
                        not in ("pending", "running")
                        and doc
                    ),
                )
        finally:
            os.kill(paused.proc.pid, signal.SIGCONT)
        assert done["status"] == "completed"
        line = _until(
            "the paused server said nothing of the run",
            lambda: next(
                (
                    line
                    for line in _lines(paused)
                    if line.get("orchestration_id") == oid and line.get("event") in ("stop", "suspended")
                ),
                None,
            ),
        )
    assert line["level"] == "WARNING", line
    assert line["error"].startswith(f"Conflict: orchestration {oid} is left to the process that resumes it"), line
