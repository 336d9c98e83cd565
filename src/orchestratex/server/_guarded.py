"""The HTTP protocol of `orchestratex serve`: uvicorn's httptools protocol with the limits of `_protocol`.

Its deadlines (headers, body) cost no timer per request: a connection keeps one timer, which, when it
fires, looks at the connection's current deadline and either acts or waits on for it. And it answers
`GET`/`HEAD /health` itself, as the app's `HealthShortcut` would, in the callback that read the request:
no ASGI task, no turn of the event loop to wait for, so the liveness probe stays fast under load.

At `max_connections` it first reclaims the connection idle the longest between requests (kept alive
after an answer, none under way) before refusing a new one with 503, as nginx reuses its idle
keep-alive connections, and past `max_connections_per_client` one of that client's idle for over
5 s (see `_reclaim_idle`): idle connections then cost little when connections run short, so they may
be kept long (`keep_alive_s`, 75 s by default: longer than clients keep theirs, so that a client
never sends a request on a connection the server has just closed). A refusal is delivered whole:
the connection is closed gracefully after it (see `_refuse`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from ._ops import HEALTH_BODY, HEALTH_HEADERS, from_a_page
from ._protocol import MIN_TAKEN_BYTES, REFUSALS, ConnectionLimits, abort_transport, backlog_of, raw_error
from ._refusals import connection_refused
from ._stopping import server_stopping

__all__ = ["GuardedProtocol"]

_END_OF_HEADERS = b"\r\n\r\n"


_PER_HOST: dict[str, int] = {}
"""Open HTTP connections per client address, in this process."""


class GuardedProtocol(HttpToolsProtocol):
    """See `_protocol`: the connection limits uvicorn does not enforce, on its httptools protocol."""

    limits: ConnectionLimits

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_headers = True
        """Between requests or reading a request's line and headers (not its body)."""
        self._header_bytes = 0
        self._tail = b""
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        """When `_timer` fires (it may be before `_deadline`, which `_arm` moved later since)."""
        self._deadline: float | None = None
        """When the current header or body deadline passes (None: no deadline running)."""
        self._refused = False
        self._host: str | None = None
        self._draining = False
        """Answered while its request's body is still arriving: the rest is read and dropped, within one body
        timeout in all (not per pause: a client dribbling it must not hold the connection for ever)."""
        self._stall: asyncio.TimerHandle | None = None
        """While writing is paused: the check that the client takes some of its answer (`_check_stall`)."""
        self._replaying = False
        """Feeding a new parser the head of a request whose `Upgrade` was declined (`_decline_upgrade`)."""

    # -- the connection ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections and not self._reclaim_idle():
            REFUSALS.note(self.loop.time(), self.limits.max_connections, loop=self.loop)
            connection_refused(self.loop, "connections")
            detail = "the server has too many open connections: retry in a moment"
            self._refuse(503, detail, {"retry-after": "1"})
            return
        host = self.client[0] if self.client else None
        if host is not None:
            count = _PER_HOST.get(host, 0) + 1
            _PER_HOST[host] = count
            self._host = host
            if count > self.limits.max_connections_per_client and not self._reclaim_idle(host, _ABANDONED_S):
                REFUSALS.note(self.loop.time(), self.limits.max_connections_per_client, host, self.loop)
                connection_refused(self.loop, "client_connections")
                detail = f"too many open connections from {host}: retry in a moment"
                self._refuse(503, detail, {"retry-after": "1"})
                return
        self._arm(self.limits.header_timeout_s)

    def _reclaim_idle(self, host: str | None = None, idle_for: float = 0.0) -> bool:
        """Close the connection (of `host`, if given) idle the longest between requests, if idle for at least
        `idle_for` seconds, to make room for this one; False if there is none. It stops counting at once (its
        `connection_lost` comes later).

        A client that sends its next request on the connection just as it is closed gets a connection error.
        At `max_connections` that race is accepted (idle connections of some clients would keep others out).
        Over `max_connections_per_client`, only a connection idle longer than clients usually keep theirs
        (`_ABANDONED_S`) is taken: one the client has most likely given up already (httpx does after 5 s,
        without closing it until its next request), so that a client coming back after a pause is not
        refused because of its own old connections; with none, its new connection gets a 503 to retry."""
        oldest: GuardedProtocol | None = None
        oldest_at = self.loop.time() + self.timeout_keep_alive - idle_for  # (a timer set `idle_for` ago or earlier)
        for other in self.connections:
            if type(other) is not type(self) or (host is not None and other._host != host):
                continue
            timer = other.timeout_keep_alive_task  # uvicorn's mark of a connection kept alive between requests
            if timer is not None and timer.when() <= oldest_at and not other.transport.is_closing():
                oldest, oldest_at = other, timer.when()
        if oldest is None:
            return False
        oldest._unset_keepalive_if_required()
        oldest._leave_host()
        self.connections.discard(oldest)
        oldest.transport.close()
        return True

    def shutdown(self) -> None:
        server_stopping(self.loop)  # the app's runs get their grace now, not once every answer is sent
        super().shutdown()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        self._stop_stall()
        self._leave_host()
        # (uvicorn cancels the keep-alive timer only on a clean close: a connection reset by its client was held by the
        # timer, its protocol, last request and transport with it, for `keep_alive_s` after it was gone)
        self._unset_keepalive_if_required()
        super().connection_lost(exc)

    # -- an answer the client does not take -------------------------------------------------
    def pause_writing(self) -> None:
        """The answer waits for the client (its buffers are full): it must take `MIN_TAKEN_BYTES` of it in every
        `body_timeout_s`, else the connection is reset. Nothing timed an answer being sent: a client that asked for
        a large one and read nothing held the connection, the unsent megabytes and (for a streamed list) the
        request's handler for ever, closing after `keep_alive_s` included (a close waits for the data to go)."""
        super().pause_writing()
        self._stop_stall()
        self._stall = self.loop.call_later(self.limits.body_timeout_s, self._check_stall, backlog_of(self.transport)())

    def resume_writing(self) -> None:
        super().resume_writing()
        self._stop_stall()

    def timeout_keep_alive_handler(self) -> None:
        """Idle `keep_alive_s` with part of its last answer still not taken (one the kernel took whole, so writing
        never paused): closed once the client has taken it, waiting while it takes `MIN_TAKEN_BYTES` of it in every
        `body_timeout_s`, else reset. A close at once waited behind that data, the connection left in FIN-WAIT-1 for
        minutes with the kernel holding it (a reset then would cut a slow client's answer short)."""
        left = 0 if self.transport.is_closing() else backlog_of(self.transport)()
        if left > 0:
            self._stop_stall()
            self._stall = self.loop.call_later(self.limits.body_timeout_s, self._check_taken, left)
            return
        super().timeout_keep_alive_handler()

    def _check_taken(self, mark: int) -> None:
        self._stall = None
        if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
            return  # (closed meanwhile, or its client sent another request: it is alive)
        left = backlog_of(self.transport)()
        if left == 0:
            self.transport.close()
        elif mark - left >= MIN_TAKEN_BYTES:
            self._stall = self.loop.call_later(self.limits.body_timeout_s, self._check_taken, left)
        else:
            abort_transport(self.transport)

    def _stop_stall(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _check_stall(self, mark: int) -> None:
        self._stall = None
        if not self.flow.write_paused:
            return
        left = backlog_of(self.transport)()
        if mark - left >= MIN_TAKEN_BYTES:  # slow, but taking it
            self._stall = self.loop.call_later(self.limits.body_timeout_s, self._check_stall, left)
            return
        abort_transport(self.transport)  # (a reset: the kernel drops what it holds for the client too)

    def _leave_host(self) -> None:
        """This connection no longer counts against its client's HTTP connections (closed, or now a WebSocket:
        those are authenticated and bounded per user)."""
        host, self._host = self._host, None
        if host is not None:
            left = _PER_HOST.get(host, 1) - 1
            if left > 0:
                _PER_HOST[host] = left
            else:
                _PER_HOST.pop(host, None)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_headers:
            if self._header_bytes + len(data) > self.limits.max_header_bytes and not self._headers_end_within(data):
                connection_refused(self.loop, "header_size")
                self._refuse(431, f"request headers too large: the limit is {self.limits.max_header_bytes} bytes")
                return
            self._header_bytes += len(data)
            self._tail = data[-3:]
        elif self._deadline is not None and not self._draining:  # a body arriving: its idle timeout starts again
            self._arm(self.limits.body_timeout_s)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade as upgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._decline_upgrade(data[upgrade.args[0] :] if upgrade.args else b"")

    def _decline_upgrade(self, rest: bytes) -> None:
        """Answer a request offering an upgrade other than WebSocket's as the HTTP/1.1 request it also is (RFC 9110,
        7.8), its body included. The offer is `Upgrade: h2c` (cleartext HTTP/2), which Java's `HttpClient`, Spring's
        `RestClient` and Ktor (JetBrains' AI Assistant) add to ordinary requests, `curl --http2` too: the parser
        stopped at the end of its headers, so uvicorn ran the request with an empty body (422 "the request body is
        empty") and read the body arriving after as the next request (400). Here a new parser is given the request's
        head without its offer (its callbacks skipped: the request is under way already), then what came after it."""
        cycle = self.cycle
        if cycle is not None and _expects_body(self.headers) and not cycle.response_started:
            cycle.more_body = True  # (the parser had ended the request at its headers)
            cycle.message_event.clear()
            self._in_headers = False
            self._arm(self.limits.body_timeout_s)
        head = [self.scope["method"].encode(), b" ", bytes(self.url), b" HTTP/1.1\r\n"]
        for name, value in self.headers:
            if name in (b"upgrade", b"http2-settings"):
                continue
            if name == b"connection":
                value = b", ".join(t for t in (v.strip() for v in value.split(b",")) if t.lower() != b"upgrade")
                if not value:
                    continue
            head += [name, b": ", value, b"\r\n"]
        self.parser = httptools.HttpRequestParser(self)
        self._replaying = True
        try:
            self.parser.feed_data(b"".join([*head, b"\r\n"]))
        finally:
            self._replaying = False
        if rest:
            self.data_received(rest)

    def _headers_end_within(self, data: bytes) -> bool:
        """Whether the headers end in `data` before the limit (the rest of `data` being body)."""
        end = (self._tail + data).find(_END_OF_HEADERS)
        return end >= 0 and self._header_bytes - len(self._tail) + end + 4 <= self.limits.max_header_bytes

    def handle_websocket_upgrade(self) -> None:
        self._leave_host()
        super().handle_websocket_upgrade()

    # -- parser callbacks -------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self._replaying:
            return
        super().on_message_begin()
        self._unset_keepalive_if_required()  # a request is under way: the connection is not idle (a `/health`
        # answered at once arms the keep-alive timeout while a request pipelined behind it may still be arriving)
        if self._deadline is None:  # the next request on a kept-alive connection: its headers have a deadline too
            self._arm(self.limits.header_timeout_s)

    def on_url(self, url: bytes) -> None:
        if not self._replaying:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._replaying:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._replaying:
            return
        self._in_headers = False
        self._disarm()
        super().on_headers_complete()
        if not self.transport.is_closing() and self.cycle is not None and self.cycle.more_body:
            upgrading = self.parser.should_upgrade() and self._should_upgrade()
            if not upgrading and _expects_body(self.headers):
                self._arm(self.limits.body_timeout_s)

    def on_message_complete(self) -> None:
        self._disarm()
        self._draining = False
        self._in_headers = True
        self._header_bytes = 0
        self._tail = b""
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        cycle = self.cycle  # (the request being read: another one, pipelined, may be what was answered)
        if not self._in_headers and cycle is not None and cycle.response_complete and not self.transport.is_closing():
            # answered before its body arrived (401, 413, 404, …): what is left of it is read and dropped, so the
            # connection may serve the next request, but only within one body timeout from now
            self._draining = True
            self._arm(self.limits.body_timeout_s)

    # -- /health ----------------------------------------------------------------------------
    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        """uvicorn's hook for running a request (a request of its own, or the next pipelined one)."""
        scope = cycle.scope
        if scope.get("http_version") == "1.0":
            _unchunked(cycle)
        if (
            self.limits.answer_health
            and scope["path"] == "/health"
            and scope["method"] in ("GET", "HEAD")
            and app is self.app  # (not uvicorn's 503 for `limit_concurrency`)
            and not self.flow.write_paused
            and not cycle.disconnected
            and not from_a_page(scope)  # (a browser's: the app's CORS middleware answers it)
        ):
            _answer_now(cycle, {"type": "http.response.start", "status": 200, "headers": HEALTH_HEADERS})
            _answer_now(cycle, {"type": "http.response.body", "body": HEALTH_BODY})  # (none sent for HEAD)
            return
        super()._start_asgi_task(cycle, app)

    # -- timers -----------------------------------------------------------------------------
    def _arm(self, delay: float) -> None:
        """Start a deadline `delay` seconds from now (replacing any other)."""
        deadline = self.loop.time() + delay
        self._deadline = deadline
        if self._timer is None or self._timer_at > deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self.loop.call_at(deadline, self._check_deadline)
            self._timer_at = deadline

    def _disarm(self) -> None:
        self._deadline = None  # the timer, if any, finds nothing due and stops (or serves the next deadline)

    def _stop_timer(self) -> None:
        self._deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_deadline(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None:
            return
        if deadline > self.loop.time() + _EARLY_S:  # moved later since the timer was set: wait for it
            self._timer = self.loop.call_at(deadline, self._check_deadline)
            self._timer_at = deadline
            return
        self._deadline = None
        self._timed_out()

    def _timed_out(self) -> None:
        if self.transport.is_closing():
            return
        if self._in_headers:
            if self._header_bytes == 0 and (self.cycle is None or self.cycle.response_complete):
                self.transport.close()  # nothing asked (an idle connection): nothing to answer
                return
            connection_refused(self.loop, "header_timeout")
            self._refuse(408, f"the request headers took longer than {self.limits.header_timeout_s:g} s to arrive")
            return
        if self._draining:  # the answer is sent: the rest of a body nobody reads took too long
            self.transport.close()
            return
        if self.flow.read_paused:  # the application is not reading the body yet: the client is not to blame
            self._arm(self.limits.body_timeout_s)
            return
        cycle = self.cycle
        connection_refused(self.loop, "body_timeout")
        detail = f"the request body stalled for {self.limits.body_timeout_s:g} s"
        if cycle is not None and not cycle.response_started:
            self.transport.write(raw_error(408, detail))
        if cycle is not None:  # the application reads a disconnect, and what it answers is dropped
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """A request the HTTP parser cannot read: answered with the API's error body (uvicorn's is plain text,
        which a client reading every error as JSON could not), saying what to check. Counted as `invalid_request`:
        answered here, before any app, and logged by nothing, a flood of them moved no metric either."""
        connection_refused(self.loop, "invalid_request")
        self._refuse(400, _UNREADABLE)

    def _refuse(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        """Answer `status` and close, gracefully: the answer is followed by the end of the stream (FIN), and what
        the client still sends is read and dropped until it closes too, for at most `_LINGER_S`. Closing at once
        with the client's request unread would make the kernel reset the connection, destroying the answer on
        its way: the client would see a connection error instead of a 503 it can retry after `Retry-After`.
        The connection stops counting against the limits at once."""
        self._refused = True
        self._stop_timer()
        self._leave_host()
        self.connections.discard(self)
        transport = self.transport
        transport.write(raw_error(status, detail, headers))
        if not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        self.loop.call_later(_LINGER_S, transport.close)  # (closing a transport twice is harmless)


_UNREADABLE = (
    "not a valid HTTP/1.1 request: check its request line (a space or another character a URL may not hold is sent"
    " percent-encoded, as %20), its headers and, for a chunked body, its chunks"
)
"""The detail of the 400 for a request the HTTP parser cannot read."""

_ABANDONED_S = 5.0
"""Over `max_connections_per_client`, a connection of that client idle this long may be closed for a new one."""

_LINGER_S = 2.0
"""How long a refused connection keeps reading (and dropping) what its client sends, waiting for it to close."""

_EARLY_S = 0.001
"""A timer firing this close to its deadline counts as on time (the loop may run a timer a hair early)."""


def _unchunked(cycle: RequestResponseCycle) -> None:
    """Send the answer of an HTTP/1.0 request whose length is unknown when it starts (a streamed list, a `/v1` stream)
    as it is, ended by closing the connection (which uvicorn does after every HTTP/1.0 answer). An HTTP/1.0 client
    reads no chunked coding (RFC 9112, 6.1: it is never sent to one), yet uvicorn chunked such an answer whatever the
    request's version: the client (ApacheBench, `curl --http1.0`, a proxy speaking HTTP/1.0 to its upstream) read
    the chunks' sizes as part of the JSON."""
    send = cycle.send
    unsized = False

    async def send_unchunked(message: Any) -> None:
        nonlocal unsized
        if message["type"] == "http.response.start":
            names = {bytes(name).lower() for name, _ in message.get("headers", [])}
            unsized = b"content-length" not in names and b"transfer-encoding" not in names
            if unsized:
                cycle.chunked_encoding = False
        elif unsized and message["type"] == "http.response.body" and not cycle.response_complete:
            cycle.expected_content_length = len(message.get("body", b""))  # (each piece as it comes)
        await send(message)

    cycle.send = send_unchunked  # type: ignore[method-assign]


def _answer_now(cycle: RequestResponseCycle, message: dict[str, Any]) -> None:
    """Send `message` through uvicorn's own `send` (its status line, default headers, access log line), run
    to its end here: it waits for nothing while the transport's writing is not paused (checked before)."""
    step = cycle.send(message)  # type: ignore[arg-type]
    try:
        step.send(None)
    except StopIteration:
        return
    step.close()
    raise RuntimeError("uvicorn's send waited although writing was not paused")


def _expects_body(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
        if name == b"transfer-encoding":
            return True
    return False
