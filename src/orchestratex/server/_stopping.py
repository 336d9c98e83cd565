"""The moment `orchestratex serve` begins a graceful stop (SIGTERM, Ctrl-C), told to the app at once.

ASGI tells an app it is stopping only through the lifespan's shutdown, which uvicorn sends once every
request has been answered. A request that waits for an orchestration (`/v1/chat/completions`) would then
hold the stop back until its run ends, however long that takes, and `shutdown_grace_s` would never
apply to it. uvicorn does call each connection's `shutdown()` as soon as it begins to stop: the HTTP
protocol of `orchestratex serve` (`_guarded`) calls `server_stopping` there, and the app's lifespan
registers, with `on_stopping`, what must start then (the runner's grace period, then handing back the
runs still going, which answers the waiting requests).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable

__all__ = ["on_forced", "on_stopping", "server_forced", "server_stopping"]

logger = logging.getLogger("orchestratex.server")

_CALLBACKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Callable[[], object]]] = (
    weakref.WeakKeyDictionary()
)
"""What to call when the server of an event loop begins to stop (each app served on that loop)."""
_FORCED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Callable[[], object]]] = weakref.WeakKeyDictionary()
"""What to call when the stop of the server of an event loop is forced (a second Ctrl-C or SIGTERM)."""


def on_stopping(callback: Callable[[], object]) -> Callable[[], None]:
    """Call `callback` once when the HTTP server of the running event loop begins a graceful stop; returns
    a function that forgets it (the app's lifespan ends: it stops by itself then)."""
    return _register(_CALLBACKS, callback)


def on_forced(callback: Callable[[], object]) -> Callable[[], None]:
    """Call `callback` once when the graceful stop of the HTTP server of the running event loop is forced: uvicorn's
    "CTRL+C to force quit", which skips the rest of the app's shutdown only where the server waits for connections
    (`orchestratex serve` calls `server_forced` then); returns a function that forgets it."""
    return _register(_FORCED, callback)


def _register(
    registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Callable[[], object]]],
    callback: Callable[[], object],
) -> Callable[[], None]:
    callbacks = registry.setdefault(asyncio.get_running_loop(), [])
    callbacks.append(callback)

    def forget() -> None:
        if callback in callbacks:
            callbacks.remove(callback)

    return forget


def server_stopping(loop: asyncio.AbstractEventLoop) -> None:
    """The server on `loop` begins to stop: call (once) what the apps it serves registered."""
    _call(_CALLBACKS.pop(loop, []))


def server_forced(loop: asyncio.AbstractEventLoop) -> None:
    """The stop of the server on `loop` is forced: call (once) what the apps it serves registered."""
    _call(_FORCED.pop(loop, []))


def _call(callbacks: list[Callable[[], object]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:  # one app's failure must not keep the others from stopping
            logger.exception("starting the graceful stop failed")
