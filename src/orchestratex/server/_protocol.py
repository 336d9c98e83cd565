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
- a connection limit: past `max_connections` open connections (HTTP and WebSocket), the longest-idle
  kept-alive connection is closed to make room, or with none idle the new one gets 503 with
  `Retry-After` and is closed (gracefully: the answer arrives), so the process keeps file descriptors
  for the rest; and past `max_connections_per_client` HTTP connections from one address, the same
  with only that client's connections idle for over 5 s, so that one client cannot take them all
  (WebSocket connections are authenticated and bounded per user instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import struct
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._settings import ServerSettings

__all__ = [
    "MIN_TAKEN_BYTES",
    "REFUSALS",
    "STOP_MARGIN_S",
    "TRANSPORT_KEY",
    "ConnectionLimits",
    "abort_connection",
    "abort_transport",
    "backlog_of",
    "guarded_http_protocol",
    "raw_error",
    "transport_of",
    "uvicorn_options",
]

logger = logging.getLogger("orchestratex.server")

_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


class _RefusalLog:
    """Logs refused connections at most once per `every_s` seconds, with how many there were (a flood must
    not flood the log too), by cause: the limit on all connections, or the one on a client's (with its address).

    The refusals that come after a line are said by the next, `every_s` seconds later (`loop` schedules it): they
    used to wait for the next refusal, however much later, which then counted them all as "in the last 10 s" and
    under its own cause."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self.last = float("-inf")
        self.pending: dict[str | None, tuple[int, int]] = {}
        """Refusals not said yet, by client address (None: the limit on all connections): (count, limit)."""
        self._timer: asyncio.TimerHandle | None = None

    def note(
        self, now: float, limit: int, host: str | None = None, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        count, _ = self.pending.get(host, (0, limit))
        self.pending[host] = (count + 1, limit)
        if now - self.last >= self.every_s:
            self.flush(now)
        elif self._timer is None and loop is not None:
            self._timer = loop.call_at(self.last + self.every_s, lambda: self.flush(loop.time()))

    def flush(self, now: float) -> None:
        """Log the refusals not said yet, one line per cause."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.pending:
            return
        period = min(now - self.last, self.every_s)
        for host, (count, limit) in self.pending.items():
            which = f"from {host} (`max_connections_per_client`)" if host else "(`max_connections`)"
            logger.warning(
                "refused %d connection(s) in the last %g s: %d were open %s", count, round(period, 1), limit, which
            )
        self.pending.clear()
        self.last = now


REFUSALS = _RefusalLog()

TRANSPORT_KEY = "orchestratex.transport"
"""The scope key under which `orchestratex serve`'s WebSocket protocol gives the app its connection's transport."""


def transport_of(scope: Mapping[str, Any]) -> asyncio.Transport | None:
    """The transport of the WebSocket connection of `scope` (only under `orchestratex serve`'s protocol). Not found by
    the scope's `client`: behind a reverse proxy uvicorn trusts (`FORWARDED_ALLOW_IPS`, 127.0.0.1 by default) that is
    the address the proxy forwards, not the connection's."""
    transport: asyncio.Transport | None = scope.get(TRANSPORT_KEY)
    return transport


def abort_connection(scope: Mapping[str, Any]) -> bool:
    """Abort the WebSocket connection of `scope`: its unsent data is dropped at once. A closing handshake would wait
    for a client that does not read, holding that data meanwhile. Returns whether a connection was found (only under
    `orchestratex serve`'s protocol)."""
    transport = transport_of(scope)
    if transport is None:
        return False
    abort_transport(transport)
    return True


def abort_transport(transport: asyncio.BaseTransport) -> None:
    """Reset the connection of `transport`: what it has not sent is dropped at once, the kernel's share too."""
    sock = transport.get_extra_info("socket")
    if sock is not None:  # a reset, not a FIN queued behind the data: the kernel drops its send buffer too
        # (a connection the client has reset already has no descriptor: uvloop's socket of it raises ValueError)
        with contextlib.suppress(OSError, ValueError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()  # type: ignore[attr-defined]


MIN_TAKEN_BYTES = 16 * 1024
"""What a client must take of what it is sent within each timeout to be waited for (`backlog_of`)."""


def backlog_of(transport: asyncio.BaseTransport) -> Callable[[], int]:
    """A function giving the bytes sent to `transport`'s client that it has not taken yet: what the transport's
    buffer holds plus what the kernel has not seen acknowledged (`SIOCOUTQ`, on Linux; the buffer alone elsewhere).
    The kernel takes megabytes at once and frees room only in large steps, so the buffer alone can stand still for
    seconds while the client reads."""
    buffered = transport.get_write_buffer_size  # type: ignore[attr-defined]
    sock = transport.get_extra_info("socket")
    if sock is None or not sys.platform.startswith("linux"):
        return lambda: int(buffered())
    import fcntl
    import termios

    fd = sock.fileno()

    def backlog() -> int:
        unsent = 0
        with contextlib.suppress(OSError):
            unsent = struct.unpack("i", fcntl.ioctl(fd, termios.TIOCOUTQ, b"\0\0\0\0"))[0]
        return int(buffered()) + unsent

    return backlog


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout_s: float
    body_timeout_s: float
    max_header_bytes: int
    max_connections: int
    max_connections_per_client: int
    answer_health: bool = False
    """Answer `GET`/`HEAD /health` in the protocol, as the app's `HealthShortcut` does (only for an app that
    has one: `create_app`'s)."""


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
        max_connections_per_client=settings.max_connections_per_client,
        answer_health=True,  # `orchestratex serve` serves `create_app`'s app
    )
    options: dict[str, Any] = {
        "timeout_keep_alive": settings.keep_alive_s,
        "ws_max_size": settings.ws_max_message_bytes,
        "ws_max_queue": 4,
        # A graceful stop waited for every connection to close: a client still sending its body a byte at a time
        # (within `body_timeout_s` per pause) or slow to take its answer held the stop for as long as it cared to,
        # long after the runs' grace. Past the grace and `STOP_MARGIN_S`, uvicorn cancels what is left and stops.
        "timeout_graceful_shutdown": settings.shutdown_grace_s + STOP_MARGIN_S,
    }
    protocol = guarded_http_protocol(limits)
    if protocol is not None:
        options["http"] = protocol
    try:  # (uvicorn >= 0.35 with websockets: a client over `ws_max_size` gets its 1009, not a TCP reset)
        from ._ws_linger import LingeringWebSocketProtocol
    except ImportError:  # pragma: no cover - depends on the installation
        pass
    else:
        options["ws"] = LingeringWebSocketProtocol
    return options


STOP_MARGIN_S = 5.0
"""On a graceful stop, how long the requests still being answered get after the runs' grace (`shutdown_grace_s`):
the answers of the calls waiting for their runs (503 `stopped`) are sent in it."""


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


def guarded_http_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol] | None:
    """uvicorn's httptools protocol with `limits` (pass it as `uvicorn.run(..., http=...)`), or None (with a
    warning) where httptools is not installed (it comes with `uvicorn[standard]` on CPython)."""
    try:
        from ._guarded import GuardedProtocol
    except ImportError:  # pragma: no cover - depends on the installation
        logger.warning(
            "httptools is not installed: request header and body timeouts, the header size limit and the"
            " connection limit are not enforced (pip install 'uvicorn[standard]')"
        )
        return None

    class GuardedHttpToolsProtocol(GuardedProtocol):
        pass

    GuardedHttpToolsProtocol.limits = limits
    return GuardedHttpToolsProtocol
