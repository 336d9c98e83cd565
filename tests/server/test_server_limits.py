"""Limits: requests per session, concurrent orchestrations per user, body size."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import WebSocketDenialResponse
from starlette.types import Message, Scope

from orchestratex.exceptions import StoreUnavailable
from orchestratex.records import Orchestration, OrchestrationStatus, Session, Thread
from orchestratex.server._errors import ApiError
from orchestratex.server._limits import BodySizeLimit, ConcurrencyLimiter, RateLimiter
from orchestratex.stores import MemoryStore

from .conftest import Api, in_app_loop


def test_rate_limit_per_session_with_headers(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_limit=5)
    sid = api.session()["_id"]
    other = api.session()["_id"]
    for i in range(5):
        r = api.client.get(f"/api/sessions/{sid}", headers=api.alice)
        assert r.status_code == 200
        assert r.headers["RateLimit-Policy"] == '"session";q=5;w=60, "user";q=1000;w=60'
        assert re.fullmatch(rf'"session";r={4 - i};t=\d+', r.headers["RateLimit"])
    r = api.client.get(f"/api/sessions/{sid}", headers=api.alice)
    assert r.status_code == 429
    assert r.json()["status_code"] == 429
    assert "5 requests per 60 s" in r.json()["detail"]
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.headers["RateLimit-Policy"] == '"session";q=5;w=60, "user";q=1000;w=60'
    assert re.fullmatch(r'"session";r=0;t=\d+', r.headers["RateLimit"])
    for path in (f"/api/threads/session/{sid}", f"/api/analytics/session/{sid}"):
        assert api.client.get(path, headers=api.alice).status_code == 429
    assert (
        api.client.post(
            "/api/threads/", json={"session_id": sid, "original_prompt": "x"}, headers=api.alice
        ).status_code
        == 429
    )
    assert api.client.get(f"/api/sessions/{other}", headers=api.alice).status_code == 200


def test_a_counted_request_refused_after_it_was_counted_still_says_what_is_left(make_api: Callable[..., Api]) -> None:
    """An error answered after the request counted against its session (a 409, a 413, a 400) had
    no `RateLimit` headers, though it spent one of the session's requests: a client pacing itself by them lost
    count. Each such answer now carries them, as docs/server.md says of every answer of a counted request."""
    api = make_api(rate_limit=20, storage_quota_bytes=2000)
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]  # (1)

    def left(r: Any) -> int:
        assert r.headers["RateLimit-Policy"] == '"session";q=20;w=60, "user";q=1000;w=60', (r.status_code, r.text)
        found = re.fullmatch(r'"session";r=(\d+);t=\d+', r.headers["RateLimit"])
        assert found, r.headers["RateLimit"]
        return int(found.group(1))

    r = api.client.post("/api/orchestration/start", json={"thread_id": tid, "prompt": "x" * 3000}, headers=api.alice)
    assert r.status_code == 413 and left(r) == 18  # (2) the storage quota
    body = {"thread_id": tid, "settings": {"preferred_models": ["gpt-17"]}}
    r = api.client.post("/api/orchestration/start", json=body, headers=api.alice)
    assert r.status_code == 400 and left(r) == 17  # (3) an unknown model
    assert (
        api.client.patch(f"/api/sessions/{sid}/status", json={"status": "paused"}, headers=api.alice).status_code == 200
    )
    r = api.client.post("/api/orchestration/start", json={"thread_id": tid}, headers=api.alice)
    assert r.status_code == 409 and left(r) == 15  # (5) the session is paused
    r = api.client.post("/api/threads/", json={"session_id": sid, "original_prompt": "x"}, headers=api.alice)
    assert r.status_code == 409 and left(r) == 14  # (6)
    r = api.client.patch(f"/api/sessions/{sid}/status", json={"status": "paused"}, headers=api.alice)
    assert r.status_code == 200 and left(r) == 13  # (7) (an answer without error carried them already)
    with pytest.raises(WebSocketDenialResponse) as refused:
        with api.client.websocket_connect(f"/ws/{sid}?since=999", headers=api.alice):
            pass
    assert refused.value.status_code == 422 and left(refused.value) == 12  # (8) a handshake past the last event


def test_the_headers_announce_the_users_limit_when_it_is_closer_than_the_sessions(
    make_api: Callable[..., Api],
) -> None:
    """A user's requests to several sessions reach the user's limit before any session's: the `RateLimit` headers
    described the session's limit alone (`"session";r=3` on the last answer before a 429 of the user's), so a client
    pacing itself by them was refused without warning. They now name the limit closest to being reached, and
    `RateLimit-Policy` declares both."""
    api = make_api(user_rate_limit=9, rate_limit=5)
    sessions = [api.session()["_id"] for _ in range(3)]  # the user's requests 1-3
    seen: list[tuple[int, str]] = []
    for n in range(4, 11):
        r = api.client.get(f"/api/sessions/{sessions[n % 3]}", headers=api.alice)
        assert r.headers["RateLimit-Policy"] == '"session";q=5;w=60, "user";q=9;w=60'
        found = re.fullmatch(r'("session"|"user");r=(\d+);t=(\d+)', r.headers["RateLimit"])
        assert found, r.headers["RateLimit"]
        assert 1 <= int(found.group(3)) <= 60
        seen.append((r.status_code, f"{found.group(1)};r={found.group(2)}"))
    # no session has more than 2 of its 5 requests: the user's limit becomes the closer one, announced as such
    assert seen == [
        (200, '"session";r=4'),  # (the user's r=5)
        (200, '"session";r=4'),  # (a tie: the user's r=4)
        (200, '"user";r=3'),
        (200, '"user";r=2'),
        (200, '"user";r=1'),
        (200, '"user";r=0'),  # announced before the 429
        (429, '"user";r=0'),
    ]
    assert "9 requests per 60 s for user alice" in r.json()["detail"]
    assert 1 <= int(r.headers["Retry-After"]) <= 60


def test_the_headers_announce_the_sessions_limit_while_it_is_the_closer_one(make_api: Callable[..., Api]) -> None:
    api = make_api(user_rate_limit=9, rate_limit=3)
    sid = api.session()["_id"]  # the user's request 1
    said = [api.client.get(f"/api/sessions/{sid}", headers=api.alice).headers["RateLimit"] for _ in range(4)]
    assert [h.split(";t=")[0] for h in said] == ['"session";r=2', '"session";r=1', '"session";r=0', '"session";r=0']


def test_a_route_naming_no_session_announces_the_users_limit_before_its_429(make_api: Callable[..., Api]) -> None:
    """Listing sessions, reading the catalog: requests that count against the user alone carried no `RateLimit`
    headers, and then a 429 (with `Retry-After` only)."""
    api = make_api(user_rate_limit=3, rate_limit=100)
    said = []
    for path in ("/api/models/", "/api/sessions/user/alice", "/api/models/", "/api/models/"):
        r = api.client.get(path, headers=api.alice)
        assert r.headers["RateLimit-Policy"] == '"session";q=100;w=60, "user";q=3;w=60'
        assert re.fullmatch(r'"user";r=\d+;t=\d+', r.headers["RateLimit"]), r.headers["RateLimit"]
        said.append((r.status_code, r.headers["RateLimit"].split(";t=")[0]))
    assert said == [(200, '"user";r=2'), (200, '"user";r=1'), (200, '"user";r=0'), (429, '"user";r=0')]
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    r = api.client.get("/api/models/", headers=api.bob)  # (another user's count)
    assert r.status_code == 200 and r.headers["RateLimit"].startswith('"user";r=2;')


def test_requests_refused_as_not_found_do_not_count(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_limit=2)
    sid = api.session()["_id"]
    for _ in range(5):
        assert api.client.get(f"/api/sessions/{sid}", headers=api.bob).status_code == 404
    assert api.client.get(f"/api/sessions/{sid}", headers=api.alice).status_code == 200


def test_concurrent_orchestrations_per_user(make_api: Callable[..., Api]) -> None:
    api = make_api(max_concurrent=2, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.05"})
    tid = api.thread(api.session()["_id"])["_id"]
    slow = {"max_iterations": 3, "evaluation_threshold": 10}
    running = [api.start(tid, settings=slow)["_id"] for _ in range(2)]
    r = api.client.post("/api/orchestration/start", json={"thread_id": tid}, headers=api.alice)
    assert r.status_code == 429
    assert r.json()["detail"] == "user alice already has 2 orchestrations running (the limit): wait for one to end"
    assert r.headers["Retry-After"] == "1"  # as every other 429 of the API (and this one on /v1)
    bob_tid = api.thread(api.session(api.bob)["_id"], api.bob)["_id"]
    api.wait(api.start(bob_tid, api.bob)["_id"], api.bob)  # another user is not affected
    for oid in running:
        api.wait(oid)
    for _ in range(50):  # a slot is free as soon as its run is stored as ended
        if api.client.post("/api/orchestration/start", json={"thread_id": tid}, headers=api.alice).status_code == 202:
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the slots were not given back")


def test_a_run_another_process_drives_holds_its_slot_until_the_store_has_it_ended(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(max_concurrent=1)
    tid = api.thread(api.session()["_id"])["_id"]

    async def elsewhere() -> Orchestration:  # a run another server process is driving: it holds the lease
        thread = await api.store.get_thread(tid)
        doc = Orchestration(thread_id=tid, session_id=thread.session_id, user_id="alice", prompt="p", status="running")
        await api.store.create_orchestration(doc)
        assert await api.store.claim(doc.id, "another-process", 300)
        return doc

    other = in_app_loop(api.client).call(elsewhere)
    r = api.client.post("/api/orchestration/start", json={"thread_id": tid}, headers=api.alice)
    assert r.status_code == 429, r.text
    other.status = "completed"  # that process ends it: nothing has to tell this one
    in_app_loop(api.client).call(api.store.commit, other)
    api.wait(api.start(tid)["_id"])


def test_a_refused_start_gives_its_slot_back(make_api: Callable[..., Api]) -> None:
    api = make_api(max_concurrent=1)
    tid = api.thread(api.session()["_id"])["_id"]
    for _ in range(3):
        r = api.client.post(
            "/api/orchestration/start",
            json={"thread_id": tid, "settings": {"preferred_models": ["x"]}},
            headers=api.alice,
        )
        assert r.status_code == 400
    api.wait(api.start(tid)["_id"])


async def _store_orchestration(store: MemoryStore, status: OrchestrationStatus = "pending") -> Orchestration:
    session = await store.create_session(Session(user_id="alice"))
    thread = await store.create_thread(Thread(session_id=session.id, user_id="alice", original_prompt="p"))
    return await store.create_orchestration(
        Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p", status=status)
    )


async def _start(limiter: ConcurrencyLimiter, store: MemoryStore) -> Orchestration | None:
    """What the start route does: admit, store the orchestration `pending`, end the admission."""
    try:
        token = await limiter.acquire("alice")
    except ApiError as exc:
        assert exc.status_code == 429
        return None
    try:
        await asyncio.sleep(0)  # let concurrent starts interleave between the check and the write
        return await _store_orchestration(store)
    finally:
        await limiter.release(token)


async def test_a_slot_is_held_exactly_while_the_store_has_the_orchestration_pending_or_running() -> None:
    store = MemoryStore()
    limiter = ConcurrencyLimiter(store, limit=2)
    first, second = await _start(limiter, store), await _start(limiter, store)
    assert first is not None and second is not None
    assert await _start(limiter, store) is None
    second.status = "running"
    await store.commit(second)
    assert await _start(limiter, store) is None
    await _store_orchestration(store, "running")  # started by a library user on the same store: it counts too
    first.status = second.status = "completed"  # ended by whichever process: nothing has to give the slot back
    await store.commit(first)
    await store.commit(second)
    assert await _start(limiter, store) is not None
    assert await _start(limiter, store) is None


async def test_concurrent_starts_never_exceed_the_limit() -> None:
    store = MemoryStore()
    limiter = ConcurrencyLimiter(store, limit=3)
    started = await asyncio.gather(*(_start(limiter, store) for _ in range(8)))
    assert sum(o is not None for o in started) == 3
    assert await store.count_active_orchestrations("alice") == 3


async def test_a_start_left_unfinished_by_a_dead_process_stops_counting_within_two_windows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])  # the limiter's windows and the store's counter expiry
    store = MemoryStore()
    limiter = ConcurrencyLimiter(store, limit=1, start_window_s=30)
    await limiter.acquire("alice")  # the process dies here: no orchestration stored, no release
    assert await _start(limiter, store) is None
    now[0] += 31
    assert await _start(limiter, store) is None  # the previous window still counts
    now[0] += 30
    assert await _start(limiter, store) is not None  # the slot was never lost


async def test_a_release_after_the_windows_passed_does_not_free_a_slot_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])  # the limiter's windows and the store's counter expiry
    store = MemoryStore()
    limiter = ConcurrencyLimiter(store, limit=1, start_window_s=30)
    slow = await limiter.acquire("alice")
    now[0] += 90  # a start slower than two windows: its count has expired
    held = await limiter.acquire("alice")
    await limiter.release(slow)  # must not take `held`'s count away
    with pytest.raises(ApiError):
        await limiter.acquire("alice")
    await limiter.release(held)


class _FailingCounter(MemoryStore):
    """A store whose counter `failing` (a key prefix) cannot be written."""

    def __init__(self, failing: str) -> None:
        super().__init__()
        self.failing = failing

    async def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        if key.startswith(self.failing):
            raise StoreUnavailable("counter unavailable")
        return await super().incr(key, amount, ttl_s=ttl_s)


@pytest.mark.parametrize("which", ["current", "previous"])
async def test_a_start_whose_counters_fail_leaves_no_count_behind(which: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both windows' counters are asked at once: a failure of either leaves the current window's count as it was."""
    now = [1_000_020.0]  # window 33,334 of 30 s
    monkeypatch.setattr(time, "time", lambda: now[0])
    failing = "starting:alice:33334" if which == "current" else "starting:alice:33333"
    store = _FailingCounter(failing)
    limiter = ConcurrencyLimiter(store, limit=1, start_window_s=30)
    with pytest.raises(StoreUnavailable):
        await limiter.acquire("alice")
    store.failing = "none"
    assert await store.incr("starting:alice:33334", 0) == 0


def test_bodies_over_the_limit_answer_413(make_api: Callable[..., Api]) -> None:
    api = make_api(max_body_bytes=1000)
    big = {"user_id": "alice", "padding": "x" * 2000}
    r = api.client.post("/api/sessions/", json=big, headers=api.alice)
    assert r.status_code == 413
    assert r.json() == {"detail": "request body too large: the limit is 1000 bytes", "status_code": 413}

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b" " * 300

    r = api.client.post("/api/sessions/", content=chunks(), headers={**api.alice, "Content-Type": "application/json"})
    assert "content-length" not in r.request.headers
    assert r.status_code == 413
    assert api.client.post("/api/sessions/", json={}, headers=api.alice).status_code == 201


async def test_the_body_is_not_read_past_the_limit() -> None:
    received: list[int] = []
    sent: list[Message] = []
    app_calls: list[bytes] = []

    async def app(scope: Scope, receive: object, send: object) -> None:
        body = b""
        while True:
            message = await receive()  # type: ignore[operator]
            if message["type"] == "http.disconnect":
                raise RuntimeError("client disconnected")
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        app_calls.append(body)

    async def receive() -> Message:
        received.append(1)
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}  # an endless stream

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    await BodySizeLimit(app, max_bytes=2500)(scope, receive, send)
    assert len(received) == 3  # stopped at the first chunk past the limit
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert app_calls == []


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    sent: list[Message] = []

    async def app(scope: Scope, receive: object, send: object) -> None:
        raise AssertionError("the app must not be called")

    async def receive() -> Message:
        raise AssertionError("nothing must be read")

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-length", b"6000000")]}
    await BodySizeLimit(app, max_bytes=5 * 1024 * 1024)(scope, receive, send)
    assert sent[0]["status"] == 413


async def test_a_store_turning_slow_does_not_reset_the_count_of_a_window() -> None:
    """Counting in this process while the store is slow goes on from the store's count: 5 requests counted in
    the store, then the store stalls, and the 6th is still refused (it used to start again from 0)."""

    class Stalling(MemoryStore):
        stall = False

        async def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
            if self.stall:
                await asyncio.sleep(1)
            return await super().incr(key, amount, ttl_s=ttl_s)

    store = Stalling()
    limiter = RateLimiter(store, limit=5, window_s=3600, store_timeout_s=0.05)
    for _ in range(5):
        await limiter.hit("s1")
    store.stall = True
    with pytest.raises(ApiError) as refused:
        await limiter.hit("s1")
    assert refused.value.status_code == 429
    assert (await limiter.hit("s2"))["RateLimit"].startswith('"session";r=4;')  # another session counts from 1


def test_a_test_counting_to_a_limit_is_not_cut_by_the_end_of_a_window(
    make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make_api` starts the limiters' windows as the app starts (conftest's `limit_windows_begin_now`): the
    wall clock 0.1 s before the end of a minute, counting to a limit of 2 across that minute's end still
    refuses the third request. Without it, the third request opened a new window and passed (a flaky test)."""
    clock = [1_000_019.9]  # 0.1 s before the end of a 60 s window
    monkeypatch.setattr(time, "time", lambda: clock[0])
    api = make_api(rate_limit=2)
    sid = api.session()["_id"]
    statuses = []
    for _ in range(3):
        statuses.append(api.client.get(f"/api/sessions/{sid}", headers=api.alice).status_code)
        clock[0] += 0.1
    assert statuses == [200, 200, 429]
