"""`/ws/{session_id}`: replay with `since`, live events, heartbeats, events of other processes, slow clients."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from orchestratex import Orchestrator
from orchestratex.events import OrchestrationStarted
from orchestratex.server import CLOSE_SESSION_ENDED, CLOSE_TOO_SLOW, ServerState

from .conftest import Api, in_app_loop

TERMINAL = ("orchestration_completed", "orchestration_failed")


def receive_until_end(ws: Any, max_silent_heartbeats: int = 150) -> list[dict[str, Any]]:
    """Events until the terminal one; fails (rather than hanging) after too many heartbeats in a row."""
    events: list[dict[str, Any]] = []
    silent = 0
    while True:
        message = json.loads(ws.receive_text())
        if message["type"] == "heartbeat":
            silent += 1
            assert silent < max_silent_heartbeats, f"the stream stalled after {len(events)} events"
            continue
        silent = 0
        events.append(message)
        if message["type"] in TERMINAL:
            return events


def test_live_events_then_replay_since(api: Api) -> None:
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]
    with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice) as ws:
        oid = api.start(tid, settings={"max_iterations": 2})["_id"]
        live = receive_until_end(ws)
    assert [e["seq"] for e in live] == list(range(1, len(live) + 1))
    assert live[0]["type"] == "orchestration_started"
    assert {"model_selected", "response_generated", "evaluation_completed"} <= {e["type"] for e in live}
    assert all(e["orchestration_id"] == oid and e["thread_id"] == tid and e["session_id"] == sid for e in live)
    first = live[0]
    assert {"type", "thread_id", "timestamp"} <= set(first)
    selected = next(e for e in live if e["type"] == "model_selected")
    assert selected["model_name"] and selected["reasoning"]
    generated = next(e for e in live if e["type"] == "response_generated")
    assert generated["response_preview"] and generated["tokens_used"] > 0
    judged = next(e for e in live if e["type"] == "evaluation_completed")
    assert judged["evaluator_model"] and 0 <= judged["score"] <= 10 and "feedback" in judged
    done = live[-1]
    assert {"final_response", "iterations", "final_score", "total_cost"} <= set(done)

    with api.client.websocket_connect(f"/ws/{sid}?since=2&token={api.keys['alice']}") as ws:
        assert receive_until_end(ws) == live[2:]


def test_heartbeats_carry_the_last_seq(make_api: Callable[..., Api]) -> None:
    api = make_api(heartbeat_s=0.05)
    sid = api.session()["_id"]
    with api.client.websocket_connect(f"/ws/{sid}", headers={"X-API-Key": api.keys["alice"]}) as ws:
        beat = json.loads(ws.receive_text())
    assert beat["type"] == "heartbeat"
    assert beat["session_id"] == sid and beat["seq"] == 0
    assert beat["timestamp"].endswith("Z")  # as every event's (it ended `+00:00`)
    assert datetime.fromisoformat(beat["timestamp"]).tzinfo == UTC


def _until_closed(ws: Any, limit: int = 200) -> tuple[list[dict[str, Any]], int, str]:
    """The messages up to the server's close, and its code and reason (fails after `limit` messages)."""
    messages: list[dict[str, Any]] = []
    for _ in range(limit):
        try:
            messages.append(json.loads(ws.receive_text()))
        except WebSocketDisconnect as closed:
            return messages, closed.code, closed.reason
    raise AssertionError(f"still open after {limit} messages: {[m['type'] for m in messages[-5:]]}")


def test_a_stream_of_an_ended_session_sends_everything_then_closes_with_1000(api: Api) -> None:
    """It stayed open with heartbeats forever, though no event could come any more."""
    sid = api.session()["_id"]
    api.wait(api.start(api.thread(sid)["_id"], settings={"max_iterations": 1})["_id"])
    r = api.client.patch(f"/api/sessions/{sid}/status", json={"status": "completed"}, headers=api.alice)
    assert r.status_code == 200, r.text
    for since in (0, 2):
        with api.client.websocket_connect(f"/ws/{sid}?since={since}", headers=api.alice) as ws:
            events, code, reason = _until_closed(ws)
        assert code == CLOSE_SESSION_ENDED == 1000
        assert reason == f"session {sid} is completed: every event was sent, no more can come"
        assert events[0]["seq"] == since + 1 and events[-1]["type"] == "orchestration_completed"
        assert "heartbeat" not in {e["type"] for e in events}


def test_a_live_stream_closes_with_1000_once_its_session_is_ended_and_its_runs_have_stopped(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(heartbeat_s=0.1)
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]
    with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice) as ws:
        oid = api.start(tid, settings={"max_iterations": 1})["_id"]
        receive_until_end(ws)
        assert json.loads(ws.receive_text())["type"] == "heartbeat"  # (an active session may get more runs)
        api.client.patch(f"/api/sessions/{sid}/status", json={"status": "cancelled"}, headers=api.alice)
        rest, code, reason = _until_closed(ws)
    assert code == 1000 and reason == f"session {sid} is cancelled: every event was sent, no more can come"
    assert {e["type"] for e in rest} <= {"heartbeat"}
    assert api.wait(oid)["status"] == "completed"


def test_a_stream_of_a_paused_session_stays_open(make_api: Callable[..., Api]) -> None:
    api = make_api(heartbeat_s=0.05)
    sid = api.session()["_id"]
    api.client.patch(f"/api/sessions/{sid}/status", json={"status": "paused"}, headers=api.alice)
    with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice) as ws:
        beats = [json.loads(ws.receive_text())["type"] for _ in range(3)]
    assert beats == ["heartbeat"] * 3


def test_events_of_another_process_sharing_the_store_are_streamed(make_api: Callable[..., Api]) -> None:
    api = make_api(poll_interval_s=0.02)
    sid = api.session()["_id"]
    other = Orchestrator(store=api.store)  # not the app's orchestrator: its events bypass the app
    with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice) as ws:
        result = in_app_loop(api.client).call(lambda: other.run("Explain photosynthesis briefly", session=sid))
        events = receive_until_end(ws)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["orchestration_id"] == result.id


def test_a_slow_subscriber_is_closed_with_4008_and_loses_nothing_on_reconnect(make_api: Callable[..., Api]) -> None:
    api = make_api(heartbeat_s=0.05, ws_queue_size=3)
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]
    stored = api.wait(api.start(tid)["_id"])
    with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice) as ws:
        replayed = receive_until_end(ws)
        assert json.loads(ws.receive_text())["type"] == "heartbeat"  # now waiting for live events
        last = replayed[-1]["seq"]
        state: ServerState = api.client.app.state.server  # type: ignore[attr-defined]

        def burst() -> None:  # faster than any socket: the sender gets no chance to drain in between
            for seq in range(last + 1, last + 11):
                state.hub.publish(
                    OrchestrationStarted(
                        orchestration_id=stored["_id"],
                        thread_id=tid,
                        session_id=sid,
                        seq=seq,
                        prompt="x",
                        domain="general",
                        max_iterations=1,
                        evaluation_threshold=8,
                    )
                )

        in_app_loop(api.client).call(burst)
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_text()
    assert closed.value.code == CLOSE_TOO_SLOW
    assert "since" in closed.value.reason
    with api.client.websocket_connect(f"/ws/{sid}?since=0", headers=api.alice) as ws:
        assert receive_until_end(ws) == replayed


@pytest.mark.parametrize(
    ("path", "who", "status"),
    [
        ("/ws/{sid}", None, 401),
        ("/ws/{sid}?token=ox_wrong", None, 401),
        ("/ws/{sid}", "bob", 404),
        ("/ws/0123456789abcdef01234567", "alice", 404),
        ("/ws/{sid}?since=-1", "alice", 422),
        ("/ws/{sid}?since=x", "alice", 422),
        ("/ws/{sid}?since=9223372036854775808", "alice", 422),  # past a 64-bit seq: refused, not a 1011 later
        ("/ws/{sid}?since=" + "9" * 4000, "alice", 422),
        ("/ws/{sid}/", "alice", 404),  # no WebSocket route there: the error body, not Starlette's bare 403
        ("/ws/", "alice", 404),
        ("/api/sessions/{sid}", "alice", 404),
        ("/nowhere", None, 404),
        ("/v1/chat/completions", "alice", 404),  # under a mount: its app refused with a bare 403
        ("/v1", None, 404),
        ("/console/app.js", "alice", 404),
        ("/_docs/swagger-ui.css", None, 404),
    ],
)
def test_refused_handshakes_answer_http_errors(api: Api, path: str, who: str | None, status: int) -> None:
    sid = api.session()["_id"]
    headers = {"bob": api.bob, "alice": api.alice}.get(who or "", {})
    with pytest.raises(WebSocketDenialResponse) as refused:
        with api.client.websocket_connect(path.format(sid=sid), headers=headers):
            pass
    assert refused.value.status_code == status
    assert refused.value.json()["status_code"] == status


def test_a_websocket_under_a_mount_of_an_app_behind_a_prefix_names_the_stream_under_the_prefix(api: Api) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.testclient import TestClient

    outer = Starlette(routes=[Mount("/ox", app=api.client.app)])
    with TestClient(outer) as client, pytest.raises(WebSocketDenialResponse) as refused:
        with client.websocket_connect("/ox/v1/models"):  # (no key: still 404, as for an unknown HTTP URL)
            pass
    assert refused.value.status_code == 404
    assert refused.value.json()["detail"] == (
        "no WebSocket at /ox/v1/models: the event stream of a session is /ox/ws/{session_id}"
    )


def test_a_plain_http_request_to_the_stream_says_it_is_a_websocket(api: Api) -> None:
    """curl, or a reverse proxy that drops `Upgrade`, formerly got 404 Not Found for the right URL."""
    sid = api.session()["_id"]
    for headers in (api.alice, {}):
        answer = api.client.get(f"/ws/{sid}", headers=headers)
        assert answer.status_code == 426 and answer.headers["upgrade"] == "websocket"
        assert "this URL is a WebSocket" in answer.json()["detail"] and answer.json()["status_code"] == 426
    assert not [path for path in api.client.get("/openapi.json").json()["paths"] if path.startswith("/ws")]


def test_a_plain_http_request_to_the_stream_with_a_slash_too_many_gets_the_404_of_its_websocket(api: Api) -> None:
    """It got an empty 307 to the URL without the slash, its `?token=<key>` echoed in `Location` (where a proxy may log
    it), and followed that answered 426 "this URL is a WebSocket" as if the URL were right: a WebSocket to it is 404."""
    sid = api.session()["_id"]
    key = api.alice["Authorization"].removeprefix("Bearer ")
    for method in ("GET", "HEAD", "POST"):
        answer = api.client.request(method, f"/ws/{sid}/?token={key}", follow_redirects=False)
        assert answer.status_code == 404 and "location" not in answer.headers, method
    detail = f"no WebSocket at /ws/{sid}/: the event stream of a session is /ws/{{session_id}}"
    assert api.client.get(f"/ws/{sid}/?token={key}").json() == {"detail": detail, "status_code": 404}
    with pytest.raises(WebSocketDenialResponse) as refused:
        with api.client.websocket_connect(f"/ws/{sid}/?token={key}"):
            pass
    assert (refused.value.status_code, refused.value.json()["detail"]) == (404, detail)


def test_a_token_or_since_given_twice_is_refused_as_ambiguous(api: Api) -> None:
    """Formerly the last one was used without a word (`?since=0&since=7` replayed from 7)."""
    sid = api.session()["_id"]
    key = api.alice["Authorization"].removeprefix("Bearer ")
    for query, name in (
        (f"token={key}&token=ox_other", "token"),
        (f"token={key}&token={key}", "token"),
        (f"token={key}&since=0&since=0", "since"),
    ):
        with pytest.raises(WebSocketDenialResponse) as refused:
            with api.client.websocket_connect(f"/ws/{sid}?{query}"):
                pass
        assert refused.value.status_code == 422
        assert refused.value.json()["detail"] == f"{name}: given more than once in the URL: give it once"
    with api.client.websocket_connect(f"/ws/{sid}?token={key}&since=0"):  # once each: served
        pass


@pytest.mark.parametrize("name", ["after", "last_seq", "Since", "seq"])
def test_a_position_under_another_name_is_refused_not_the_whole_history_replayed(api: Api, name: str) -> None:
    """`?after=3` (or `last_seq`, `Since`: the names other streams give a position) was ignored: a client reconnecting
    with it was sent the session's whole history again, every event it had already handled a second time."""
    sid = api.session()["_id"]
    api.wait(api.start(api.thread(sid)["_id"])["_id"])
    with pytest.raises(WebSocketDenialResponse) as refused:
        with api.client.websocket_connect(f"/ws/{sid}?{name}=3", headers=api.alice):
            pass
    assert (refused.value.status_code, refused.value.json()["detail"]) == (
        422,
        f"{name}: not a query parameter of the event stream, which takes since (the last seq received) and token",
    )
    with api.client.websocket_connect(f"/ws/{sid}?since=3", headers=api.alice) as ws:
        assert receive_until_end(ws)[0]["seq"] == 4


@pytest.mark.parametrize("since", ["1_0", "\u0663", "+3", "%203"])
def test_a_since_that_is_not_plain_digits_is_refused(api: Api, since: str) -> None:
    """Formerly read by `int()`: `1_0` as 10, an Arabic-Indic digit as 3, `+3` and ` 3` as 3."""
    sid = api.session()["_id"]
    with pytest.raises(WebSocketDenialResponse) as refused:
        with api.client.websocket_connect(f"/ws/{sid}?since={since}", headers=api.alice):
            pass
    assert refused.value.status_code == 422
    assert refused.value.json()["detail"].startswith("since: must be a whole number from 0 to 9223372036854775807")


def test_a_since_past_the_sessions_last_event_is_refused(api: Api) -> None:
    sid = api.session()["_id"]
    with pytest.raises(WebSocketDenialResponse) as refused:  # no event yet
        with api.client.websocket_connect(f"/ws/{sid}?since=5", headers=api.alice):
            pass
    assert refused.value.status_code == 422 and "has no event 5: it has no event yet" in refused.value.json()["detail"]
    tid = api.thread(sid)["_id"]
    api.wait(api.start(tid)["_id"])
    with api.client.websocket_connect(f"/ws/{sid}?since=3", headers=api.alice) as ws:  # one it has
        assert receive_until_end(ws)[0]["seq"] == 4
    with pytest.raises(WebSocketDenialResponse) as refused:
        with api.client.websocket_connect(f"/ws/{sid}?since=1005", headers=api.alice):
            pass
    assert refused.value.status_code == 422 and "reconnect with since=0" in refused.value.json()["detail"]


def test_an_admin_may_watch_any_session(api: Api) -> None:
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]
    api.wait(api.start(tid)["_id"])
    with api.client.websocket_connect(f"/ws/{sid}", headers=api.admin) as ws:
        assert receive_until_end(ws)[0]["seq"] == 1


def test_a_gap_in_live_events_is_filled_from_the_store(make_api: Callable[..., Api]) -> None:
    api = make_api(heartbeat_s=0.05, poll_interval_s=3600)  # no polling: only the gap filling can help
    sid = api.session()["_id"]
    other = Orchestrator(store=api.store)  # its events are stored but never published to the app's hub
    with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice) as ws:
        assert json.loads(ws.receive_text())["type"] == "heartbeat"
        result = in_app_loop(api.client).call(lambda: other.run("Explain photosynthesis briefly", session=sid))
        state: ServerState = api.client.app.state.server  # type: ignore[attr-defined]
        in_app_loop(api.client).call(lambda: state.hub.publish(result.events[-1]))  # only the last one arrives live
        events = receive_until_end(ws)
    assert [e["seq"] for e in events] == [e.seq for e in result.events] == list(range(1, len(events) + 1))


def test_websocket_connections_count_against_the_session_rate_limit(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_limit=2)
    sid = api.session()["_id"]
    for _ in range(2):
        with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice):
            pass
    with pytest.raises(WebSocketDenialResponse) as refused:
        with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice):
            pass
    assert refused.value.status_code == 429
    assert "rate limit reached" in refused.value.json()["detail"]
    assert int(refused.value.headers["Retry-After"]) >= 1


def test_a_since_beyond_the_stream_does_not_hide_other_processes_events(make_api: Callable[..., Api]) -> None:
    api = make_api(poll_interval_s=0.02)
    sid = api.session()["_id"]
    other = Orchestrator(store=api.store)
    with pytest.raises(WebSocketDenialResponse) as refused:  # a position of another stream: refused
        with api.client.websocket_connect(f"/ws/{sid}?since=1000000", headers=api.alice):
            pass
    assert refused.value.status_code == 422
    with api.client.websocket_connect(f"/ws/{sid}?since=0", headers=api.alice) as ws:
        result = in_app_loop(api.client).call(lambda: other.run("Explain photosynthesis briefly", session=sid))
        events = receive_until_end(ws)
    assert [e["seq"] for e in events] == [e.seq for e in result.events]


def test_an_idle_stream_stays_open_while_the_store_is_down(make_api: Callable[..., Api]) -> None:
    """Checking whether the session has ended must not turn a store outage into a 1011 close of every idle stream:
    they wait for the store, with heartbeats, as before."""
    from orchestratex.exceptions import StoreUnavailable
    from orchestratex.records import Session
    from orchestratex.stores import SQLiteStore

    class Down(SQLiteStore):
        down = False

        async def get_session(self, session_id: str) -> Session:
            if self.down:
                raise StoreUnavailable("cannot reach the database")
            return await super().get_session(session_id)

    store = Down(":memory:")
    api = make_api(store=store, heartbeat_s=0.05)
    sid = api.session()["_id"]
    with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice) as ws:
        assert json.loads(ws.receive_text())["type"] == "heartbeat"
        store.down = True
        beats = [json.loads(ws.receive_text())["type"] for _ in range(3)]
        store.down = False
    assert beats == ["heartbeat"] * 3


async def test_a_session_is_over_only_once_every_orchestration_of_it_has_ended_on_any_page() -> None:
    """Its orchestrations are read page by page until an empty page (a store may give fewer than asked)."""
    from types import SimpleNamespace

    from orchestratex.records import Orchestration, Session, Thread
    from orchestratex.server._ws import _session_over
    from orchestratex.stores import MemoryStore

    class SmallPages(MemoryStore):
        async def list_orchestrations(self, **kwargs: Any) -> list[Orchestration]:
            return await super().list_orchestrations(**{**kwargs, "limit": 2})

    store = SmallPages()
    session = await store.create_session(Session(user_id="alice"))
    thread = await store.create_thread(Thread(session_id=session.id, user_id="alice", original_prompt="hi"))
    runs = [
        await store.create_orchestration(
            Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="hi", status=status)
        )
        for status in ("completed", "failed", "cancelled", "completed", "running")
    ]
    state: Any = SimpleNamespace(store=store)
    assert await _session_over(state, session.id) is None  # (active)
    await store.set_session_status(session.id, "completed")
    assert await _session_over(state, session.id) is None  # (the fifth, on the third page, still runs)
    assert runs[-1].status == "running"


def test_a_stream_closed_because_the_store_failed_says_why_in_the_log(
    make_api: Callable[..., Api], caplog: pytest.LogCaptureFixture
) -> None:
    """The client of a stream the store failed sees only close code 1011; the server's log said nothing of it, so an
    operator could not tell why clients were dropped. It now logs one warning naming the session and the failure."""
    from orchestratex.events import Event
    from orchestratex.exceptions import StoreError
    from orchestratex.stores import SQLiteStore

    class Failing(SQLiteStore):
        failing = False

        async def list_events(self, session_id: str, **kwargs: Any) -> list[Event]:
            if self.failing:
                raise StoreError("disk I/O error while reading events")
            return await super().list_events(session_id, **kwargs)

    store = Failing(":memory:")
    api = make_api(store=store)
    sid = api.session()["_id"]
    store.failing = True
    with caplog.at_level("WARNING", logger="orchestratex.server"):
        with api.client.websocket_connect(f"/ws/{sid}", headers=api.alice) as ws:
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
    assert closed.value.code == 1011
    logged = [r for r in caplog.records if r.name == "orchestratex.server"]
    assert [r.getMessage() for r in logged] == [
        f"the event stream of session {sid} closed with 1011: the store failed: disk I/O error while reading events"
    ]
    assert [r.__dict__.get("session_id") for r in logged] == [sid]  # (a field, for a JSON log pipeline to find it by)
