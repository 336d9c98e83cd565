"""Connection-level limits uvicorn does not enforce by itself: `guarded_http_protocol` makes its HTTP protocol class.

uvicorn (httptools) waits for a request's headers and body for as long as a client cares to send
them, lets headers grow without bound and accepts every connection until the process runs out of
file descriptors. The protocol returned here adds, per connection:

- a header deadline: the request line and headers (and the silence before them) must arrive within
  `header_timeout_s`, else 408 and the connection is closed (slowloris);
- a body idle timeout: a body whose next bytes do not arrive within `body_timeout_s` gets 408 and
  the connection is closed, and the application sees a disconnect;
- a header size limit: more than `max_header_bytes` of request line and headers gets 431, refused
  before they are held in memory;
- a connection limit: past `max_connections` open connections (HTTP and WebSocket), a new one gets
  503 with `Retry-After` and is closed at once, so the process keeps file descriptors for the rest.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

if TYPE_CHECKING:
    from ._settings import ServerSettings

__all__ = ["ConnectionLimits", "abort_connection", "guarded_http_protocol", "raw_error", "uvicorn_options"]

logger = logging.getLogger("orchestratex.server")

_REASONS = {408: "Request Timeout", 431: "Request Header Fields Too Large", 503: "Service Unavailable"}
_END_OF_HEADERS = b"\r\n\r\n"


class _RefusalLog:
    """Logs refused connections at most once per `every_s` seconds, with how many there were (a flood must
    not flood the log too)."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self.last = float("-inf")
        self.count = 0

    def note(self, now: float, limit: int) -> None:
        self.count += 1
        if now - self.last >= self.every_s:
            logger.warning(
                "refused %d connection(s) in the last %g s: %d are open (the limit, `max_connections`)",
                self.count,
                min(now - self.last, self.every_s),
                limit,
            )
            self.last, self.count = now, 0


_REFUSALS = _RefusalLog()

_WEBSOCKETS: weakref.WeakValueDictionary[tuple[str, int], asyncio.Transport] = weakref.WeakValueDictionary()
"""The transports of upgraded (WebSocket) connections by client address, for `abort_connection`."""


def abort_connection(client: tuple[str, int] | None) -> bool:
    """Abort the WebSocket connection of `client` (an ASGI scope's `client`): its unsent data is dropped at
    once. A closing handshake would wait for a client that does not read, holding that data meanwhile.
    Returns whether a connection was found (only under `orchestratex serve`'s protocol)."""
    transport = _WEBSOCKETS.pop(tuple(client), None) if client else None  # type: ignore[arg-type]
    if transport is None:
        return False
    transport.abort()
    return True


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout_s: float
    body_timeout_s: float
    max_header_bytes: int
    max_connections: int


def raw_error(status: int, detail: str, headers: dict[str, str] | None = None) -> bytes:
    """A complete `Connection: close` HTTP/1.1 answer with the API's error body, as bytes."""
    body = json.dumps({"detail": detail, "status_code": status}).encode()
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def uvicorn_options(settings: ServerSettings) -> dict[str, Any]:
    """The `uvicorn.run`/`uvicorn.Config` options enforcing `settings`' connection limits."""
    max_connections = min(settings.max_connections, _open_file_budget())
    if max_connections < settings.max_connections:
        logger.warning(
            "max_connections lowered from %d to %d to fit the open-file limit (raise it with `ulimit -n`)",
            settings.max_connections,
            max_connections,
        )
    limits = ConnectionLimits(
        header_timeout_s=settings.header_timeout_s,
        body_timeout_s=settings.body_timeout_s,
        max_header_bytes=settings.max_header_bytes,
        max_connections=max_connections,
    )
    return {
        "http": guarded_http_protocol(limits),
        "timeout_keep_alive": settings.keep_alive_s,
        "ws_max_size": settings.ws_max_message_bytes,
        "ws_max_queue": 4,
    }


def _open_file_budget() -> int:
    """Connections the process can hold: its open-file limit less room for the database, logs and listeners."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # pragma: no cover - not on POSIX
        return 1_000_000
    if soft == resource.RLIM_INFINITY:
        return 1_000_000
    return max(16, soft - 64)


def guarded_http_protocol(limits: ConnectionLimits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with `limits` (pass it as `uvicorn.run(..., http=...)`)."""

    class GuardedHttpToolsProtocol(_Guarded):
        pass

    GuardedHttpToolsProtocol.limits = limits
    return GuardedHttpToolsProtocol


class _Guarded(HttpToolsProtocol):
    limits: ConnectionLimits

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_headers = True
        """Between requests or reading a request's line and headers (not its body)."""
        self._header_bytes = 0
        self._tail = b""
        self._timer: asyncio.TimerHandle | None = None
        self._refused = False

    # -- the connection ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            _REFUSALS.note(self.loop.time(), self.limits.max_connections)
            detail = "the server has too many open connections: retry in a moment"
            self._refuse(503, detail, {"retry-after": "1"})
            return
        self._arm(self.limits.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_headers:
            if self._header_bytes + len(data) > self.limits.max_header_bytes and not self._headers_end_within(data):
                self._refuse(431, f"request headers too large: the limit is {self.limits.max_header_bytes} bytes")
                return
            self._header_bytes += len(data)
            self._tail = data[-3:]
        elif self._timer is not None:  # a body arriving: its idle timeout starts again
            self._arm(self.limits.body_timeout_s)
        super().data_received(data)

    def _headers_end_within(self, data: bytes) -> bool:
        """Whether the headers end in `data` before the limit (the rest of `data` being body)."""
        end = (self._tail + data).find(_END_OF_HEADERS)
        return end >= 0 and self._header_bytes - len(self._tail) + end + 4 <= self.limits.max_header_bytes

    def handle_websocket_upgrade(self) -> None:
        if self.client is not None:
            _WEBSOCKETS[self.client] = self.transport
        super().handle_websocket_upgrade()

    # -- parser callbacks -------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._timer is None:  # the next request on a kept-alive connection: its headers have a deadline too
            self._arm(self.limits.header_timeout_s)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._disarm()
        super().on_headers_complete()
        if not self.transport.is_closing() and self.cycle is not None and self.cycle.more_body:
            upgrading = self.parser.should_upgrade() and self._should_upgrade()
            if not upgrading and _expects_body(self.headers):
                self._arm(self.limits.body_timeout_s)

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_headers = True
        self._header_bytes = 0
        self._tail = b""
        super().on_message_complete()

    # -- timers -----------------------------------------------------------------------------
    def _arm(self, delay: float) -> None:
        self._disarm()
        self._timer = self.loop.call_later(delay, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self._in_headers:
            if self._header_bytes == 0 and (self.cycle is None or self.cycle.response_complete):
                self.transport.close()  # nothing asked (an idle connection): nothing to answer
                return
            self._refuse(408, f"the request headers took longer than {self.limits.header_timeout_s:g} s to arrive")
            return
        if self.flow.read_paused:  # the application is not reading the body yet: the client is not to blame
            self._arm(self.limits.body_timeout_s)
            return
        cycle = self.cycle
        detail = f"the request body stalled for {self.limits.body_timeout_s:g} s"
        if cycle is not None and not cycle.response_started:
            self.transport.write(raw_error(408, detail))
        if cycle is not None:  # the application reads a disconnect, and what it answers is dropped
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()

    def _refuse(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        self._refused = True
        self._disarm()
        self.transport.write(raw_error(status, detail, headers))
        self.transport.close()


def _expects_body(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
        if name == b"transfer-encoding":
            return True
    return False
