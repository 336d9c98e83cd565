"""Requests that stop spending (cancelling a run, ending a session) are never refused for a request rate while
they stop something: a client past the limit, polling its runs' status, could otherwise not stop them, and
they went on paying for up to a window (429 to the cancel and to the end of the session alike)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .conftest import Api, in_app_loop

SLOW = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "1"}
"""Simulated calls that take their time: a run is still going when the test stops it."""
RUNNING: dict[str, Any] = {"settings": {"max_iterations": 5, "evaluation_threshold": 10}}


def _ended(api: Api, orchestration_id: str) -> str:
    """The run's status once it has ended, read from the store (the API would count the read)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        doc = in_app_loop(api.client).call(api.store.get_orchestration, orchestration_id)
        if doc.status in ("completed", "failed", "cancelled"):
            return doc.status
        time.sleep(0.02)
    raise AssertionError(f"orchestration {orchestration_id} did not end")


def _running(api: Api, sid: str, n: int) -> list[str]:
    ids = []
    for i in range(n):
        tid = api.thread(sid, original_prompt=f"Write an essay on tides, part {i}")["_id"]
        ids.append(api.start(tid, **RUNNING)["_id"])
    return ids


def test_a_session_past_its_rate_can_still_cancel_its_runs_and_be_ended(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_limit=6, env=SLOW)
    sid = api.session()["_id"]
    first, second = _running(api, sid, 2)  # 2 threads + 2 starts: 4 requests of the session
    while api.client.get(f"/api/orchestration/status/{first}", headers=api.alice).status_code == 200:
        pass  # a dashboard polling its runs
    r = api.client.post(f"/api/orchestration/{first}/cancel", headers=api.alice)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    again = api.client.post(f"/api/orchestration/{first}/cancel", headers=api.alice)
    assert again.status_code == 429, again.text  # it stops nothing now: refused as any request past the limit
    paused = api.client.patch(f"/api/sessions/{sid}/status", json={"status": "paused"}, headers=api.alice)
    assert paused.status_code == 429, paused.text  # pausing stops no run
    r = api.client.patch(f"/api/sessions/{sid}/status", json={"status": "cancelled"}, headers=api.alice)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    assert r.headers["RateLimit"].startswith('"session";r=0;')
    again = api.client.patch(f"/api/sessions/{sid}/status", json={"status": "completed"}, headers=api.alice)
    assert again.status_code == 429, again.text
    assert _ended(api, second) == "cancelled"


def test_a_user_past_its_request_limit_can_still_stop_its_runs(make_api: Callable[..., Api]) -> None:
    api = make_api(user_rate_limit=8, rate_limit=100, env=SLOW)
    sid = api.session()["_id"]
    first, second = _running(api, sid, 2)  # 5 requests of alice
    while api.client.get(f"/api/orchestration/status/{first}", headers=api.alice).status_code == 200:
        pass
    refused = api.client.get(f"/api/orchestration/status/{first}", headers=api.alice)
    assert refused.status_code == 429 and "for user alice" in refused.json()["detail"]
    r = api.client.post(f"/api/orchestration/{first}/cancel", headers=api.alice)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    again = api.client.post(f"/api/orchestration/{first}/cancel", headers=api.alice)
    assert again.status_code == 429 and "for user alice" in again.json()["detail"], again.text
    paused = api.client.patch(f"/api/sessions/{sid}/status", json={"status": "paused"}, headers=api.alice)
    assert paused.status_code == 429 and "for user alice" in paused.json()["detail"], paused.text
    r = api.client.patch(f"/api/sessions/{sid}/status", json={"status": "completed"}, headers=api.alice)
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    assert _ended(api, second) == "cancelled"
    assert api.client.get("/api/models/", headers=api.alice).status_code == 429  # the limit holds for the rest
    for path in ("/api/orchestration/6b0000000000000000000000/cancel", "/api/orchestration/nope/cancel"):
        r = api.client.post(path, headers=api.alice)  # stops nothing: no free reads past the limit
        assert r.status_code == 429 and "for user alice" in r.json()["detail"], r.text
    for sid in ("6b0000000000000000000000", "nope"):
        r = api.client.patch(f"/api/sessions/{sid}/status", json={"status": "completed"}, headers=api.alice)
        assert r.status_code == 429 and "for user alice" in r.json()["detail"], r.text
