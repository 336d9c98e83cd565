"""`/ws/{session_id}`: a session's events, stored ones with `seq > since` first, then live ones.

Protocol:
- Authenticate with `Authorization: Bearer <key>`, `X-API-Key`, the subprotocols `orchestratex, bearer.<key>` (what a
  browser can send: the server answers `orchestratex`, never the key), or `?token=<key>`, kept for the clients that
  use it (two different keys: 400). A refused handshake answers HTTP 400, 401, 404, 422, 429 or 503 with the usual
  error body.
- `token` and `since` are given at most once each (422 for a second: which one was meant is not guessed), and no
  other query parameter is taken (422).
- `?since=N` (default 0): replay every stored event with `seq > N`, in `seq` order, then stream
  new ones as they happen. Events arrive in `seq` order, each once, with no gap. An `N` the session
  has no event of (past its end) is refused with 422; to a client that offered the `orchestratex` subprotocol (a
  browser, which is told nothing of a refused handshake) the stream opens and closes at once with 4422
  (`CLOSE_SINCE_PAST_END`): its position is of another stream (the store restored from a backup since), and
  reconnecting with `since=0` takes every event the session has now.
- After `heartbeat_s` seconds without an event the server sends
  `{"type": "heartbeat", "session_id": ..., "seq": <last seq sent>, "timestamp": ...}`.
- Once the session has ended (`completed` or `cancelled`) and none of its orchestrations is still running, no
  event can come any more: the server sends what is left and closes with 1000 (`CLOSE_SESSION_ENDED`), at once
  after the replay, else within `heartbeat_s` seconds.
- A client too slow to keep up with `ws_queue_size` buffered events, or that takes nothing of what it was sent for
  `ws_send_timeout_s` (`backlog_taken`), is closed with code 4008 (`CLOSE_TOO_SLOW`); reconnecting with
  `since=<last seq received>` loses nothing.
- One user (the key's: an admin watching another user's session counts as the admin) may hold
  `ws_max_per_user` streams open in one server process (429 with `Retry-After` past it), and a
  client's own messages are read and ignored, up to `ws_max_message_bytes` each.
- A socket whose API key is revoked is closed with code 1008 (`CLOSE_KEY_REVOKED`): at once when the
  key is revoked through this server's admin API, else within `ws_auth_check_s` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from .._ids import utcnow
from .._timestamps import timestamp_text
from ..exceptions import OrchestrateXError, StoreError
from ..records import TERMINAL_ORCHESTRATION_STATUSES
from ._access import load_session
from ._app import ServerState
from ._auth import WS_SUBPROTOCOL, key_of, no_key_reason, ws_subprotocol
from ._auth_limit import client_address
from ._errors import ApiError, clipped, error_response, invalid, library_response, rate_headers
from ._hub import Subscriber, encode
from ._keys import watch_key
from ._protocol import abort_connection
from ._ws_backlog import backlog_gone, backlog_taken

__all__ = [
    "CLOSE_KEY_REVOKED",
    "CLOSE_SESSION_ENDED",
    "CLOSE_SINCE_PAST_END",
    "CLOSE_TOO_SLOW",
    "install_not_found",
    "router",
]

CLOSE_TOO_SLOW = 4008
"""Close code for a subscriber whose queue overflowed: reconnect with `since`."""
CLOSE_KEY_REVOKED = 1008
"""Close code (policy violation) for a socket whose API key was revoked."""
CLOSE_SESSION_ENDED = 1000
"""Close code (normal closure) once the session has ended and every event of it was sent."""
CLOSE_SINCE_PAST_END = 4422
"""Close code, right after the handshake, for a `since` past the session's last event asked by a client that offered
the `orchestratex` subprotocol (others get 422 at the handshake): a browser is told nothing of a refused handshake, so
a page whose events the store no longer has (restored from a backup) could not tell this refusal from a server
restarting, and retried the same position for good. Reconnect with `since=0`."""

_PAGE = 500
_REPLAY_FIRST = 8
_REPLAY_PAGE_BYTES = 1 << 20
_GAP_WAIT_S = 2.0

logger = logging.getLogger("orchestratex.server")

router = APIRouter()


_MAX_SINCE = 2**63 - 1
"""Sequence numbers are 64-bit signed integers in every store."""


def _once(websocket: WebSocket, name: str) -> None:
    """422 for a query parameter given more than once: which one was meant is not for the server to guess."""
    if len(websocket.query_params.getlist(name)) > 1:
        raise invalid("query", name, "given more than once in the URL: give it once")


def _since(websocket: WebSocket) -> int:
    for name in websocket.query_params:  # (`?after=12`, `?last_seq=12` replayed the whole history: every event again)
        if name not in ("since", "token"):
            raise invalid(
                "query",
                clipped(name),
                "not a query parameter of the event stream, which takes since (the last seq received) and token",
            )
    _once(websocket, "since")
    raw = websocket.query_params.get("since", "0")
    # ASCII digits only: int() also reads "1_0" as 10, "٣" as 3 and " 3 " as 3
    since = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 20 else -1
    if not 0 <= since <= _MAX_SINCE:
        raise invalid(
            "query", "since", f"must be a whole number from 0 to {_MAX_SINCE}, not {clipped(raw)!r}", "int_parsing"
        )
    return since


async def _refuse(
    websocket: WebSocket,
    status: int,
    detail: str,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    try:
        await websocket.send_denial_response(error_response(status, detail, headers, **(extra or {})))
    except RuntimeError:  # the server does not support denial responses: say it with a close code
        # (answered with the subprotocol a browser offered beside its key, or it fails the connection unread)
        await websocket.accept(
            WS_SUBPROTOCOL if WS_SUBPROTOCOL in (websocket.scope.get("subprotocols") or ()) else None
        )
        await websocket.close(code=4000 + status, reason=clipped(detail, 120))


def install_not_found(app: FastAPI) -> None:
    """A WebSocket to a URL that has none (`/ws/`, `/ws/{id}/`, `/api/...`, anything under the `/v1`, `/console`
    or docs mounts) is refused with 404 and the usual error body, as an unknown HTTP URL is (Starlette's default
    refusal is a bare 403, which reads as a key problem). Call it after the last mount."""
    default = app.router.default

    async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await default(scope, receive, send)
            return
        await _refuse_unknown(scope, receive, send, scope.get("root_path", ""))

    app.router.default = not_found
    for route in app.router.routes:
        if isinstance(route, Mount):  # a mount takes WebSockets too, and its app refuses them with a bare 403
            route.app = _HttpOnly(route.app, route.path)


class _HttpOnly:
    """A mounted app that serves HTTP only: a WebSocket under its prefix gets the 404 of an unknown URL."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            root = scope.get("root_path", "").removesuffix(self.prefix)  # (the app's root path, not the mount's)
            await _refuse_unknown(scope, receive, send, root)
        else:
            await self.app(scope, receive, send)


async def _refuse_unknown(scope: Scope, receive: Receive, send: Send, root: str) -> None:
    websocket = WebSocket(scope, receive, send)
    detail = f"no WebSocket at {websocket.url.path}: the event stream of a session is {root}/ws/{{session_id}}"
    await _refuse(websocket, 404, detail)


@router.get("/ws/{session_id}", include_in_schema=False)
async def not_a_websocket(session_id: str) -> JSONResponse:
    """A plain HTTP request to the event stream (curl, or a reverse proxy that drops the `Upgrade` header): 426
    saying what is missing, instead of a 404 that sends the user looking for another URL."""
    detail = (
        "this URL is a WebSocket: connect with a WebSocket client (`Upgrade: websocket`); behind a reverse proxy,"
        " pass the Upgrade and Connection headers on"
    )
    return error_response(426, detail, {"Upgrade": "websocket"})


@router.api_route("/ws/{session_id}/", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def no_stream_here(request: Request) -> JSONResponse:
    """A plain HTTP request to `/ws/{session_id}/` (a slash too many) got an empty 307 to the stream's URL, which echoed
    its `?token=<key>` in the `Location` header (where a proxy may log it) and, followed, answered 426 as if the URL
    were right: the 404 a WebSocket to it gets (`_refuse_unknown`), with the URL to use."""
    root = request.scope.get("root_path", "")
    detail = f"no WebSocket at {request.url.path}: the event stream of a session is {root}/ws/{{session_id}}"
    return error_response(404, detail)


@router.websocket("/ws/{session_id}")
async def stream_events(websocket: WebSocket, session_id: str) -> None:
    state: ServerState = websocket.app.state.server
    try:
        _once(websocket, "token")  # (before the key is read: which of them is it?)
        subprotocol = ws_subprotocol(websocket)
        key = key_of(websocket)
        principal = await state.auth.principal(key, client_address(websocket.scope), missing=no_key_reason(websocket))
        await state.rate.hit_user(principal.user_id)
        since = _since(websocket)
        await load_session(state, principal, session_id)  # (404 unless the key's user may read it)
        await state.rate.hit(session_id)
        try:
            await _check_since(state, session_id, since)
        except ApiError:
            if subprotocol != WS_SUBPROTOCOL:
                raise
            await websocket.accept(subprotocol)  # (said in a way a browser is told: a close code and its reason)
            await websocket.close(
                CLOSE_SINCE_PAST_END, f"session {session_id} has no event {since}: reconnect with since=0"
            )
            return
        state.streams.open(principal.user_id)  # (the key's user: an admin's streams are the admin's)
    except ApiError as exc:
        await _refuse(websocket, exc.status_code, str(exc.detail), rate_headers(exc.headers), exc.body_extra())
        return
    except OrchestrateXError as exc:
        answer = library_response(exc, "WEBSOCKET", websocket.url.path)
        retry = answer.headers.get("retry-after")
        detail = json.loads(bytes(answer.body))["detail"]
        await _refuse(websocket, answer.status_code, detail, {"Retry-After": retry} if retry else None)
        return
    try:
        await websocket.accept(subprotocol)
        subscriber = state.hub.subscribe(session_id, state.settings.ws_queue_size)
        revoked = state.sockets.open(principal.key_id)
        try:
            await _serve(websocket, state, subscriber, since, watch_key(state, key, revoked))
        finally:
            state.hub.unsubscribe(subscriber)
            state.sockets.close(principal.key_id, revoked)
    finally:
        state.streams.close(principal.user_id)


async def _serve(
    websocket: WebSocket, state: ServerState, subscriber: Subscriber, since: int, key_watch: Coroutine[Any, Any, None]
) -> None:
    pump = asyncio.create_task(_pump(websocket, state, subscriber, since))
    reader = asyncio.create_task(_drain(websocket))
    overflow = asyncio.create_task(subscriber.overflowed.wait())
    watch = asyncio.create_task(key_watch)
    try:
        done, _ = await asyncio.wait({pump, reader, overflow, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pump, reader, overflow, watch):
            task.cancel()
        for task in (pump, reader, overflow, watch):
            with contextlib.suppress(BaseException):
                await task
    if watch in done:
        await _close(websocket, state, CLOSE_KEY_REVOKED, "the API key was revoked")
    elif overflow in done or (pump in done and isinstance(pump.exception(), _TooSlow)):
        _too_slow(state, subscriber.session_id, overflow in done)
        closed = False
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                websocket.close(CLOSE_TOO_SLOW, "too slow: reconnect with ?since=<last seq received>"), 1
            )
            await backlog_gone(websocket.scope, 1)  # (the close is queued behind what the kernel holds for it)
            closed = True
        if not closed:  # the client does not take even the close: drop what it left unsent
            abort_connection(websocket.scope)
    elif pump in done and pump.exception() is not None:
        _log_failure(subscriber.session_id, pump.exception())
        await _close(websocket, state, 1011, "server error while streaming: reconnect with ?since=<last seq received>")
    elif pump in done:
        await _close(websocket, state, CLOSE_SESSION_ENDED, pump.result())


async def _close(websocket: WebSocket, state: ServerState, code: int, reason: str) -> None:
    """Close with `code` once the client has taken what it was sent, waiting as long as it takes some of it in every
    `ws_send_timeout_s` (`backlog_taken`). A client that stopped reading is reset instead: its close frame, queued
    behind megabytes it does not take, was waited for without end, and the stream (its memory, the user's
    `ws_max_per_user` slot) was never given back."""
    timeout_s = state.settings.ws_send_timeout_s
    try:
        await backlog_taken(websocket.scope, timeout_s)
        await asyncio.wait_for(websocket.close(code, reason), timeout_s)
        await backlog_gone(websocket.scope, timeout_s)  # (the kernel took megabytes the client may never read)
    except Exception:  # (it did not take its backlog, or is gone already)
        abort_connection(websocket.scope)


def _too_slow(state: ServerState, session_id: str, overflowed: bool) -> None:
    """Say in the server's log, and count in `orchestratex_limits_hit_total{limit="slow_stream"}`, that a stream is
    closed with 4008: its client saw only the code, and nothing on the server side said that (or how often) clients
    were dropped for being slow, nor which setting to raise."""
    settings = state.settings
    why = (
        f"its client fell behind by more than ORCHESTRATEX_WS_QUEUE_SIZE={settings.ws_queue_size} events"
        if overflowed
        else "its client took nothing of what it was sent for"
        f" ORCHESTRATEX_WS_SEND_TIMEOUT_S={settings.ws_send_timeout_s:g} s"
    )
    logger.warning(
        "the event stream of session %s closed with 4008, too slow: %s",
        session_id,
        why,
        extra={"session_id": session_id},
    )
    if state.metrics is not None:
        state.metrics.slow_stream()


def _log_failure(session_id: str, exc: BaseException | None) -> None:
    """Say in the server's log why a stream is closed with 1011 (its client sees only the code): the store failed,
    or a bug. A client gone in the middle of a send is no failure."""
    if exc is None or isinstance(exc, WebSocketDisconnect | OSError):
        return
    if isinstance(exc, StoreError):
        logger.warning(
            "the event stream of session %s closed with 1011: the store failed: %s",
            session_id,
            exc.message,
            extra={"session_id": session_id},
        )
    else:
        logger.error(
            "the event stream of session %s closed with 1011",
            session_id,
            exc_info=exc,
            extra={"session_id": session_id},
        )


def _now() -> str:
    """The time as events give theirs (`2026-01-01T09:52:58.278000Z`, with its microseconds even when zero)."""
    return timestamp_text(utcnow())


class _TooSlow(Exception):
    """The client did not take one event within `ws_send_timeout_s`."""


async def _send(websocket: WebSocket, state: ServerState, text: str) -> None:
    """Send one message, or raise `_TooSlow`: a client that does not read must not hold the server's memory (one
    that reads slowly is waited for while it takes what it was sent, `backlog_taken`)."""
    timeout_s = state.settings.ws_send_timeout_s
    try:
        await backlog_taken(websocket.scope, timeout_s)
        async with asyncio.timeout(timeout_s):
            await websocket.send_text(text)
    except TimeoutError:
        raise _TooSlow from None


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it disconnects."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


async def _check_since(state: ServerState, session_id: str, since: int) -> None:
    """422 when `since` is past the session's last event: the client's position is not of this stream (events
    are numbered 1, 2, 3, … and never deleted), and its next events would be skipped without a word."""
    if since == 0:
        return
    if not await state.store.list_events(session_id, since=since - 1, limit=1):
        last = await state.store.list_events(session_id, since=0, limit=1)  # (is there any?)
        ending = "it has no event yet" if not last else "its events are numbered from 1, with no gap"
        raise invalid("query", "since", f"session {session_id} has no event {since}: {ending}; reconnect with since=0")


async def _share_position(state: ServerState, session_id: str, since: int, last: int) -> None:
    """Tell the hub where the stored stream ends, so its poller reads other processes' events from there.

    Only a `seq` known to be stored counts: a client's `since` past the end of the stream must not
    make the poller skip events that other subscribers are waiting for.
    """
    if last > since or since == 0:
        state.hub.advance(session_id, last)
        return
    probe = await state.store.list_events(session_id, since=since - 1, limit=1)
    if probe and probe[0].seq == since:
        state.hub.advance(session_id, since)


async def _replay(websocket: WebSocket, state: ServerState, session_id: str, last: int) -> int:
    """Send every stored event after `last`; returns the last one sent.

    Read `_REPLAY_FIRST` events at a time, twice as many after each page of small events (up to `_PAGE`), back to
    `_REPLAY_FIRST` after a page of over `_REPLAY_PAGE_BYTES`: 500 events at a time, a session of runs with 5 MB
    prompts had hundreds of megabytes of its history in memory at once for each client connecting with `since=0`."""
    page = _REPLAY_FIRST
    while True:
        events = await state.store.list_events(session_id, since=last, limit=page)
        sent = 0
        for event in events:
            text = encode(event)
            sent += len(text)
            await _send(websocket, state, text)
            last = event.seq
        if len(events) < page:
            return last
        page = _REPLAY_FIRST if sent > _REPLAY_PAGE_BYTES else min(2 * page, _PAGE)


async def _session_over(state: ServerState, session_id: str) -> str | None:
    """The close reason when the session has ended and none of its orchestrations still runs (so no event can
    come any more), else None."""
    session = await state.store.get_session(session_id)
    if session.status not in ("completed", "cancelled"):
        return None
    offset = 0
    while page := await state.store.list_orchestrations(session_id=session_id, limit=_PAGE, offset=offset):
        if any(run.status not in TERMINAL_ORCHESTRATION_STATUSES for run in page):
            return None
        offset += len(page)  # (until an empty page: a store may give fewer than asked)
    return f"session {session_id} is {session.status}: every event was sent, no more can come"


async def _pump(websocket: WebSocket, state: ServerState, subscriber: Subscriber, since: int) -> str:
    """Stream the session's events; returns the close reason once the session is over (else runs until cancelled)."""
    session_id = subscriber.session_id
    last = await _replay(websocket, state, session_id, since)
    await _share_position(state, session_id, since, last)
    if over := await _session_over(state, session_id):
        await _replay(websocket, state, session_id, last)  # (what its runs stored meanwhile)
        return over
    heartbeat_s = state.settings.heartbeat_s
    while True:  # then live events, in seq order, filling any gap from the store
        try:
            # (not `asyncio.wait_for`: on Python 3.11 it returns the event it got when the stream is cancelled at that
            # moment, as it is when its queue overflows, so the pump went on alone, sending heartbeats for ever while
            # every later event was dropped, and the stream was never closed with 4008)
            async with asyncio.timeout(heartbeat_s):
                seq, text = await subscriber.queue.get()
        except TimeoutError:
            over = None
            with contextlib.suppress(StoreError):  # (the store is down: the stream waits for it, heartbeats go on)
                over = await _session_over(state, session_id)
            if over:
                await _replay(websocket, state, session_id, last)
                return over
            beat = {"type": "heartbeat", "session_id": session_id, "seq": last, "timestamp": _now()}
            await _send(websocket, state, json.dumps(beat))
            continue
        if seq <= last:
            continue
        if seq > last + 1:
            last = await _fill_gap(websocket, state, session_id, last, seq)
        await _send(websocket, state, text)
        last = seq


async def _fill_gap(websocket: WebSocket, state: ServerState, session_id: str, last: int, seq: int) -> int:
    """Send the stored events between `last` and `seq`; returns the last one sent.

    An event can arrive live before an earlier one is readable from the store (another process's
    commit still being written): re-read for up to `_GAP_WAIT_S` rather than skip it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _GAP_WAIT_S
    while True:
        for event in await state.store.list_events(session_id, since=last, limit=min(seq - last - 1, _PAGE)):
            if event.seq >= seq:  # (past an event this version cannot read: `seq` itself is sent by the caller)
                break
            await _send(websocket, state, encode(event))
            last = event.seq
        if last >= seq - 1 or loop.time() > deadline:
            return last
        await asyncio.sleep(0.05)
