"""Per-user bounds, cancellation through the API, and errors that leak nothing: in-process, through the routes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.testclient import WebSocketDenialResponse

from orchestratex.exceptions import StoreError, StoreUnavailable
from orchestratex.records import Session
from orchestratex.stores import MemoryStore, SQLiteStore

from .conftest import Api, in_app_loop

SLOW = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.2"}
"""Simulated calls slow enough that a run is still going when the test acts on it."""
ENDLESS = {"max_iterations": 10, "evaluation_threshold": 10}


class _SlowReleaseStore(MemoryStore):
    """A start's admission is handed back late, as on a loaded CPU: its orchestration is already stored."""

    async def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        if key.startswith("starting:") and amount < 0:
            await asyncio.sleep(0.05)
        return await super().incr(key, amount, ttl_s=ttl_s)


def _post_all(api: Api, requests: list[tuple[str, dict[str, Any]]]) -> list[httpx.Response]:
    """Send the requests at once, from the app's own event loop."""

    async def send() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=api.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=api.alice) as client:
            return list(await asyncio.gather(*(client.post(path, json=body) for path, body in requests)))

    return in_app_loop(api.client).call(send)


def test_ten_simultaneous_starts_with_none_running_are_all_admitted(make_api: Callable[..., Api]) -> None:
    api = make_api(_SlowReleaseStore(), env=SLOW, max_concurrent=10)
    tid = api.thread(api.session()["_id"])["_id"]
    start = ("/api/orchestration/start", {"thread_id": tid, "settings": ENDLESS})
    answers = _post_all(api, [start] * 10)
    assert [r.status_code for r in answers] == [202] * 10, [r.text for r in answers if r.status_code != 202]
    eleventh = api.client.post("/api/orchestration/start", json=start[1], headers=api.alice)
    assert eleventh.status_code == 429  # and never over the limit
    assert in_app_loop(api.client).call(api.store.count_active_orchestrations, "alice") == 10


def test_starts_racing_for_the_last_slots_never_pass_the_limit(make_api: Callable[..., Api]) -> None:
    # calls of several seconds: no run ends (freeing its slot) while the starts race
    api = make_api(
        _SlowReleaseStore(), env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "5"}, max_concurrent=4, shutdown_grace_s=0
    )
    tid = api.thread(api.session()["_id"])["_id"]
    answers = _post_all(api, [("/api/orchestration/start", {"thread_id": tid, "settings": ENDLESS})] * 9)
    assert sorted(r.status_code for r in answers) == [202] * 4 + [429] * 5, [r.text for r in answers]


def _events(api: Api, sid: str, oid: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        return [e.model_dump(mode="json") for e in await api.store.list_events(sid, orchestration_id=oid)]

    return in_app_loop(api.client).call(read)


def _settled(api: Api, sid: str) -> Session:
    """The session once no orchestration of it is active, with its ledger checked."""
    session: Session = in_app_loop(api.client).call(api.store.get_session, sid)
    runs = api.client.get(f"/api/sessions/{sid}", headers=api.alice).json()
    assert runs["status"] == session.status
    assert session.reserved_cost == 0  # no reservation outlives its run
    return session


@pytest.mark.parametrize("store", ["sqlite", "memory"])
def test_cancel_one_run_through_the_api(make_api: Callable[..., Api], store: str) -> None:
    api = make_api(SQLiteStore(":memory:") if store == "sqlite" else MemoryStore(), env=SLOW)
    sid = api.session(settings={"cost_limit": 5.0})["_id"]
    tid = api.thread(sid)["_id"]
    oid = api.start(tid, settings=ENDLESS)["_id"]
    keep = api.start(tid, settings=ENDLESS)["_id"]
    time.sleep(0.3)
    assert api.client.post(f"/api/orchestration/{oid}/cancel", headers=api.bob).status_code == 404
    r = api.client.post(f"/api/orchestration/{oid}/cancel", headers=api.alice)
    assert r.status_code == 200, r.text  # this process ran it: it has ended
    doc = r.json()
    assert doc["status"] == "cancelled" and doc["stop_reason"] == "cancelled"
    events = _events(api, sid, oid)
    assert events[-1]["type"] == "orchestration_failed" and events[-1]["reason"] == "cancelled"
    again = api.client.post(f"/api/orchestration/{oid}/cancel", headers=api.alice)
    assert again.status_code == 409 and "already ended (cancelled)" in again.json()["detail"]
    status = api.client.get(f"/api/orchestration/status/{keep}", headers=api.alice).json()["status"]
    assert status == "running"  # only the one asked for
    api.client.post(f"/api/orchestration/{keep}/cancel", headers=api.alice)
    session = _settled(api, sid)
    docs = [api.client.get(f"/api/orchestration/status/{o}", headers=api.alice).json() for o in (oid, keep)]
    assert session.total_cost == pytest.approx(sum(d["total_cost"] for d in docs), abs=1e-12)


@pytest.mark.parametrize("store", ["sqlite", "memory"])
def test_concurrent_cancels_of_one_run_end_it_once_one_200_the_others_409(
    make_api: Callable[..., Api], store: str
) -> None:
    # a double-clicked "Cancel", or a client retrying its cancel while the first was still on its way: every one was
    # answered 200 as the one that ended the run, where one sent a moment later is told it has already ended
    api = make_api(SQLiteStore(":memory:") if store == "sqlite" else MemoryStore(), env=SLOW)
    sid = api.session(settings={"cost_limit": 5.0})["_id"]
    oid = api.start(api.thread(sid)["_id"], settings=ENDLESS)["_id"]
    time.sleep(0.3)
    answers = _post_all(api, [(f"/api/orchestration/{oid}/cancel", {})] * 4)
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409], [r.text for r in answers]
    for r in answers:
        if r.status_code == 409:
            assert (
                r.json()["detail"] == f"orchestration {oid} has already ended (cancelled): there is nothing to cancel"
            )
        else:
            assert (r.json()["status"], r.json()["stop_reason"]) == ("cancelled", "cancelled")
    events = _events(api, sid, oid)
    assert [e["type"] for e in events].count("orchestration_failed") == 1
    session = _settled(api, sid)
    assert (
        session.total_cost == api.client.get(f"/api/orchestration/status/{oid}", headers=api.alice).json()["total_cost"]
    )


class _SlowCancelStore(MemoryStore):
    """A cancel request is recorded, then answered late, as on a loaded store: the run may end meanwhile."""

    async def request_cancel(self, orchestration_id: str) -> bool:
        recorded = await super().request_cancel(orchestration_id)
        if recorded:
            while orchestration_id in self._active:  # (until its run has ended, committing its last step)
                await asyncio.sleep(0.01)
        return recorded


def test_a_cancel_of_a_run_that_ends_meanwhile_answers_409_with_how_it_ended(make_api: Callable[..., Api]) -> None:
    # a cancel sent as the run committed its last step: the run was read running, the cancel recorded, and the run
    # ended before it could be stopped; the answer was 202 with the run "running" ("ending elsewhere") from the one
    # server there is, and the run was launched again, though it had completed
    api = make_api(_SlowCancelStore(), env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.5"})
    api.client.app.state.server.orchestrator.cancel_check_s = 3600  # type: ignore[attr-defined]
    oid = api.start(api.thread(api.session(max_iterations=1)["_id"])["_id"])["_id"]
    r = api.client.post(f"/api/orchestration/{oid}/cancel", headers=api.alice)
    assert r.status_code == 409, r.text
    assert r.json()["detail"] == f"orchestration {oid} has already ended (completed): there is nothing to cancel"
    assert api.client.get(f"/api/orchestration/status/{oid}", headers=api.alice).json()["status"] == "completed"


def test_ending_a_session_stops_its_runs_and_frees_the_slots(make_api: Callable[..., Api]) -> None:
    api = make_api(env=SLOW, max_concurrent=2)
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]
    running = [api.start(tid, settings=ENDLESS)["_id"] for _ in range(2)]
    other_tid = api.thread(api.session()["_id"])["_id"]
    assert (
        api.client.post("/api/orchestration/start", json={"thread_id": other_tid}, headers=api.alice).status_code == 429
    )
    time.sleep(0.2)
    r = api.client.patch(f"/api/sessions/{sid}/status", json={"status": "completed"}, headers=api.alice)
    assert r.status_code == 200
    for oid in running:
        doc = api.wait(oid)
        assert doc["status"] == "cancelled" and doc["stop_reason"] == "cancelled"
    assert in_app_loop(api.client).call(api.store.count_active_orchestrations, "alice") == 0
    api.wait(api.start(other_tid, settings={"max_iterations": 1})["_id"])  # the slots are free again
    _settled(api, sid)


class _SlowClaimStore(SQLiteStore):
    """A run's task takes a while to claim its orchestration's lease (`before` or `after` the claim lands), as on a
    loaded CPU: a session ended meanwhile finds the task still starting, not yet driving the run."""

    def __init__(self, when: str) -> None:
        super().__init__(":memory:")
        self.when = when

    # (the store's own start, one write that leases the run to the server accepting it: with `claim` overridden,
    # `Store.start` would be its default made of `claim` and the others, and the request itself would wait)
    start = SQLiteStore.start.__wrapped__  # type: ignore[attr-defined]

    async def claim(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        if self.when == "before":
            await asyncio.sleep(0.3)
        claimed = await super().claim(orchestration_id, owner, ttl_s)
        if self.when == "after":
            await asyncio.sleep(0.3)
        return claimed


@pytest.mark.parametrize("when", ["before", "after"])
def test_ending_a_session_while_its_runs_start_ends_them_at_once(make_api: Callable[..., Api], when: str) -> None:
    """A run ended before it began (its task still claiming the lease) was left `pending`, holding its user's
    slot, until the resume loop found it a lease later."""
    api = make_api(_SlowClaimStore(when), max_concurrent=3)
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]
    oids = [api.start(tid, settings=ENDLESS)["_id"] for _ in range(3)]
    r = api.client.patch(f"/api/sessions/{sid}/status", json={"status": "completed"}, headers=api.alice)
    assert r.status_code == 200
    for oid in oids:
        doc = api.wait(oid)  # (left pending, it would wait for the resume loop a lease later: 60 s)
        assert doc["status"] == "cancelled" and doc["stop_reason"] == "cancelled"
    assert in_app_loop(api.client).call(api.store.count_active_orchestrations, "alice") == 0
    other_tid = api.thread(api.session()["_id"])["_id"]
    started = [api.start(other_tid, settings={"max_iterations": 1})["_id"] for _ in range(3)]  # every slot is free
    for oid in started:
        api.wait(oid)
    _settled(api, sid)


def test_a_cancel_requested_in_the_store_stops_a_run_of_this_process(make_api: Callable[..., Api]) -> None:
    """What another process sharing the store does: it records the request; the driving process notices."""
    # (calls of 0.5-3 s: at SLOW's, a run whose scores stopped improving could end within the watcher's first
    # second, before the request was noticed, and the test saw `completed`)
    api = make_api(env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "1"})
    sid = api.session()["_id"]
    oid = api.start(api.thread(sid)["_id"], settings=ENDLESS)["_id"]
    time.sleep(0.2)
    assert in_app_loop(api.client).call(api.store.request_cancel, oid)
    began = time.monotonic()
    assert api.wait(oid)["status"] == "cancelled"
    # noticed within about a second (the watcher's poll): bounded at 10 s, as a loaded runner pauses the test process
    # for a second or more (a bound of 3 s failed then)
    assert time.monotonic() - began < 10
    _settled(api, sid)


def test_a_user_request_limit_spans_sessions(make_api: Callable[..., Api]) -> None:
    api = make_api(user_rate_limit=5, rate_limit=100)
    for _ in range(5):
        assert api.client.post("/api/sessions/", json={}, headers=api.alice).status_code == 201
    r = api.client.post("/api/sessions/", json={}, headers=api.alice)
    assert r.status_code == 429
    assert "5 requests per 60 s for user alice" in r.json()["detail"]
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert api.client.get("/api/models/", headers=api.alice).status_code == 429  # every route counts
    assert api.client.post("/api/sessions/", json={}, headers=api.bob).status_code == 201  # per user


def test_the_user_request_limit_counts_the_v1_routes_and_metrics_too(make_api: Callable[..., Api]) -> None:
    """`/v1` and `/metrics` were not counted: a key could call `GET /v1/models` without limit, and chat
    completions spread over sessions passed the per-user limit."""
    api = make_api(user_rate_limit=4, rate_limit=100, metrics="key")
    body = {"model": "orchestratex/fast", "messages": [{"role": "user", "content": "hi"}]}
    assert api.client.get("/v1/models", headers=api.alice).status_code == 200
    assert api.client.post("/v1/chat/completions", json=body, headers=api.alice).status_code == 200
    assert api.client.get("/metrics", headers=api.alice).status_code == 200
    assert api.client.get("/api/models/", headers=api.alice).status_code == 200
    for path in ("/v1/models", "/v1/models/orchestratex/auto"):
        r = api.client.get(path, headers=api.alice)
        error = r.json()["error"]
        assert r.status_code == 429 and error["code"] == "rate_limit_exceeded", r.text
        assert "4 requests per 60 s for user alice" in error["message"] and 1 <= int(r.headers["Retry-After"]) <= 60
    assert api.client.post("/v1/chat/completions", json=body, headers=api.alice).status_code == 429
    assert api.client.get("/metrics", headers=api.alice).status_code == 429
    assert api.client.get("/v1/models", headers=api.bob).status_code == 200  # per user


def test_a_storage_quota_per_user(make_api: Callable[..., Api]) -> None:
    api = make_api(storage_quota_bytes=10_000)
    sid = api.session()["_id"]
    api.thread(sid, original_prompt="x" * 6_000)
    r = api.client.post("/api/threads/", json={"session_id": sid, "original_prompt": "y" * 5_000}, headers=api.alice)
    assert r.status_code == 413
    assert "storage quota reached: user alice may store 10000 bytes" in r.json()["detail"]
    tid = api.thread(sid, original_prompt="z" * 3_000)["_id"]  # what was refused was not counted
    r = api.client.post("/api/orchestration/start", json={"thread_id": tid}, headers=api.alice)
    assert r.status_code == 413  # the run would store its prompt again
    assert api.client.post("/api/sessions/", json={}, headers=api.bob).status_code == 201
    api.thread(api.session(api.bob)["_id"], api.bob, original_prompt="b" * 9_000)  # another user's own quota


def test_each_orchestration_counts_the_context_it_copies_from_its_thread(make_api: Callable[..., Api]) -> None:
    """Each orchestration stores the thread's context again: it counted its prompt only (2 bytes for 15 kB)."""
    api = make_api(storage_quota_bytes=10_000)
    sid = api.session(max_iterations=1)["_id"]
    tid = api.thread(sid, original_prompt="p" * 10, context="c" * 4_000)["_id"]  # 4,010 bytes
    api.wait(api.start(tid)["_id"])  # 8,020
    r = api.client.post("/api/orchestration/start", json={"thread_id": tid}, headers=api.alice)
    assert r.status_code == 413, r.text
    assert "8020 are used and this request needs" in r.json()["detail"]  # (4,010 and the first turn's answer)
    listed = api.client.get(f"/api/threads/session/{sid}", headers=api.alice).json()
    assert len(listed) == 1  # (nothing stored by the refused start)


def _used(api: Api, sid: str) -> int:
    """The bytes the user has stored, as a request over the quota reports them."""
    r = api.client.post(
        "/api/threads/", json={"session_id": sid, "original_prompt": "x" * 1_000_000}, headers=api.alice
    )
    assert r.status_code == 413, r.text
    return int(r.json()["detail"].split(", ")[-1].split(" ")[0])


def test_a_later_turn_counts_the_earlier_turns_it_stores(make_api: Callable[..., Api]) -> None:
    api = make_api(storage_quota_bytes=100_000)
    sid = api.session(max_iterations=1)["_id"]
    tid = api.thread(sid, original_prompt="What is TCP?")["_id"]
    first = api.wait(api.start(tid)["_id"])
    before = _used(api, sid)
    second = api.wait(api.start(tid, prompt="And UDP?")["_id"])
    turns = [m["content"] for m in second["messages"]]
    assert turns == ["What is TCP?", first["final_response"], "And UDP?"]
    stored = sum(len(t.encode()) for t in (second["prompt"], *turns))
    assert _used(api, sid) == before + stored


def test_lists_stream_page_by_page_with_limit_and_offset(make_api: Callable[..., Api]) -> None:
    api = make_api()
    sid = api.session()["_id"]
    made = [api.thread(sid, original_prompt=f"prompt {i}")["_id"] for i in range(21)]
    for limit, offset in ((100, 0), (13, 2), (8, 8), (5, 19), (3, 21)):
        r = api.client.get(f"/api/threads/session/{sid}?limit={limit}&offset={offset}", headers=api.alice)
        assert r.status_code == 200
        assert [t["_id"] for t in r.json()] == made[offset : offset + limit]
    sessions = api.client.get("/api/sessions/user/alice?limit=1", headers=api.alice).json()
    assert [s["_id"] for s in sessions] == [sid]


def test_store_errors_answer_without_file_paths_and_503_with_retry_after(make_api: Callable[..., Api]) -> None:
    api = make_api()
    sid = api.session()["_id"]
    store = api.store
    original = store.get_session

    async def failing(session_id: str) -> Session:
        raise StoreError("cannot open SQLite database '/srv/secret/place/orchestratex.db': disk I/O error")

    async def busy(session_id: str) -> Session:
        raise StoreUnavailable("the database is busy: another process held its write lock for over 10 s")

    try:
        store.get_session = failing  # type: ignore[method-assign]
        r = api.client.get(f"/api/sessions/{sid}", headers=api.alice)
        assert r.status_code == 500
        assert "/srv/secret" not in r.text and "disk I/O error" in r.json()["detail"]
        store.get_session = busy  # type: ignore[method-assign]
        r = api.client.get(f"/api/sessions/{sid}", headers=api.alice)
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert r.json()["detail"] == "the database is unavailable (busy or unreachable): retry in 1 s"
        with pytest.raises(WebSocketDenialResponse) as refused:
            with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice):
                pass
        assert refused.value.status_code == 503 and refused.value.headers["Retry-After"] == "1"
    finally:
        store.get_session = original  # type: ignore[method-assign]


def test_an_admins_streams_count_against_the_admin_not_the_sessions_owner(make_api: Callable[..., Api]) -> None:
    api = make_api(ws_max_per_user=2)
    sid = api.session()["_id"]
    with api.client.websocket_connect(f"/ws/{sid}", headers=api.admin):
        with api.client.websocket_connect(f"/ws/{sid}", headers=api.admin):
            with pytest.raises(WebSocketDenialResponse) as refused:  # the admin's third
                with api.client.websocket_connect(f"/ws/{sid}", headers=api.admin):
                    pass
            assert refused.value.status_code == 429
            with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice):  # alice's first: not refused
                pass


def test_websocket_streams_per_user_are_bounded(make_api: Callable[..., Api]) -> None:
    api = make_api(ws_max_per_user=2)
    sid = api.session()["_id"]
    with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice):
        with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice):
            with pytest.raises(WebSocketDenialResponse) as refused:
                with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice):
                    pass
            assert refused.value.status_code == 429
            assert "2 event streams open" in refused.value.json()["detail"]
            assert refused.value.headers["retry-after"] == "5"  # (formerly none: a client could only guess)
    with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice):  # closing gave the slots back
        pass
