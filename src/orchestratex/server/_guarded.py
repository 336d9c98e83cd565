"""The HTTP protocol of `orchestratex serve`: uvicorn's httptools protocol with the limits of `_protocol`."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ._protocol import REFUSALS, WEBSOCKETS, ConnectionLimits, raw_error

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
        self._refused = False
        self._host: str | None = None

    # -- the connection ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            REFUSALS.note(self.loop.time(), self.limits.max_connections)
            detail = "the server has too many open connections: retry in a moment"
            self._refuse(503, detail, {"retry-after": "1"})
            return
        host = self.client[0] if self.client else None
        if host is not None:
            count = _PER_HOST.get(host, 0) + 1
            _PER_HOST[host] = count
            self._host = host
            if count > self.limits.max_connections_per_client:
                REFUSALS.note(self.loop.time(), self.limits.max_connections_per_client, host)
                detail = f"too many open connections from {host}: retry in a moment"
                self._refuse(503, detail, {"retry-after": "1"})
                return
        self._arm(self.limits.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._leave_host()
        super().connection_lost(exc)

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
            WEBSOCKETS[self.client] = self.transport
        self._leave_host()
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
