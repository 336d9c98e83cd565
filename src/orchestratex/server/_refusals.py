"""Connections the HTTP protocol of `orchestratex serve` refuses by itself (`_guarded`), told to the apps it serves.

Those refusals — 408 for headers or a body too slow, 431 for headers too large, 503 past the connection limits, 400
for a request its parser cannot read — are answered before any request reaches the app, so its metrics
(`orchestratex_limits_hit_total`) never saw them: a slowloris flood or clients sending oversized cookies moved no
metric. The app's lifespan registers, with
`on_refused`, what counts them; the protocol calls `connection_refused` on the same event loop.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import Literal

__all__ = ["ConnectionLimit", "connection_refused", "on_refused"]

logger = logging.getLogger("orchestratex.server")

ConnectionLimit = Literal[
    "header_timeout", "body_timeout", "header_size", "connections", "client_connections", "invalid_request"
]
"""The limits of the protocol (the `limit` label of `orchestratex_limits_hit_total` for its refusals); `invalid_request`
is a request its HTTP parser cannot read (400), which it answers without a log line (a flood must not flood the log)."""

_COUNTERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Callable[[ConnectionLimit], object]]] = (
    weakref.WeakKeyDictionary()
)
"""What to call on each refusal, per event loop (each app served on that loop)."""


def on_refused(callback: Callable[[ConnectionLimit], object]) -> Callable[[], None]:
    """Call `callback(limit)` for each connection the protocol serving the running event loop refuses; returns a
    function that forgets it."""
    callbacks = _COUNTERS.setdefault(asyncio.get_running_loop(), [])
    callbacks.append(callback)

    def forget() -> None:
        if callback in callbacks:
            callbacks.remove(callback)

    return forget


def connection_refused(loop: asyncio.AbstractEventLoop, limit: ConnectionLimit) -> None:
    """The protocol on `loop` refused a connection (or its request) by `limit`."""
    for callback in _COUNTERS.get(loop, ()):
        try:
            callback(limit)
        except Exception:  # (counting must never break the refusal)
            logger.exception("counting a refused connection failed")
