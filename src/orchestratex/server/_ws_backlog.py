"""`backlog_taken`: wait while a WebSocket client takes what it was sent, for as long as it keeps taking it.

uvicorn writes each message whole into the connection's buffer and makes the *next* send wait until that buffer has
drained. Timing that wait as a whole cut off any client whose link carries less than one large event per
`ws_send_timeout_s`: an `orchestration_started` event carries the prompt (up to 5 MB), which takes 13 s at 3 Mbit/s.
Closed with 4008 in the middle of it, the client reconnected with `since=` before it, met the same event again and
was cut off again, for ever: it never saw the rest of the stream. The wait is now timed by the client's progress: it
fails only after `timeout_s` in which the client took less than `MIN_TAKEN_BYTES` of the backlog, so a client that
does not read is still cut off after `timeout_s`, and one that reads slowly gets its events.

The backlog is what the connection's buffer holds plus what the kernel has not yet seen acknowledged
(`_protocol.backlog_of`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from ._protocol import MIN_TAKEN_BYTES, backlog_of, transport_of

__all__ = ["backlog_gone", "backlog_taken"]

_CHECK_S = 0.05
"""How often the backlog is looked at while it drains."""


async def backlog_taken(scope: Mapping[str, Any], timeout_s: float) -> None:
    """Return once the backlog of the WebSocket connection of `scope` is small enough for
    the next message to be sent at once; `TimeoutError` when the client took less than `MIN_TAKEN_BYTES` of it within
    `timeout_s`. Returns at once where the connection is unknown (an app not served by `orchestratex serve`'s
    protocol: the send alone is timed then)."""
    transport = transport_of(scope)
    if transport is None:
        return
    low, _ = transport.get_write_buffer_limits()  # (uvicorn's sends go on once the buffer is down to `low`)
    await _drained(transport, lambda: transport.get_write_buffer_size() <= low, timeout_s)


async def backlog_gone(scope: Mapping[str, Any], timeout_s: float) -> None:
    """Return once the client of the WebSocket connection of `scope` has taken all it was sent, the kernel's share
    included (a closing frame: what is sent last); `TimeoutError` when it took less than `MIN_TAKEN_BYTES` of it
    within `timeout_s`. The kernel takes megabytes for a client (its send buffer grows to `net.ipv4.tcp_wmem`'s
    largest, 4 MB by default), so a close frame sent behind them "succeeded" at once for a client that reads
    nothing, and the connection then held them, ESTABLISHED, then in FIN-WAIT-1, for minutes."""
    transport = transport_of(scope)
    if transport is None:
        return
    backlog = backlog_of(transport)
    await _drained(transport, lambda: backlog() == 0, timeout_s)


async def _drained(transport: asyncio.Transport, done: Callable[[], bool], timeout_s: float) -> None:
    """Wait until `done()` or the transport closes, for as long as the client takes `MIN_TAKEN_BYTES` of its backlog
    in every `timeout_s`."""
    if done():
        return
    backlog = backlog_of(transport)
    loop = asyncio.get_running_loop()
    mark, deadline = backlog(), loop.time() + timeout_s
    while not done() and not transport.is_closing():
        await asyncio.sleep(_CHECK_S)
        left = backlog()
        if mark - left >= MIN_TAKEN_BYTES:
            mark, deadline = left, loop.time() + timeout_s
        elif loop.time() >= deadline:
            raise TimeoutError
