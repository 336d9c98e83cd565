"""An orchestrator's background tasks (the lease keeper, the cancel watcher) and the event loops they run on.

One orchestrator may be used from one event loop after another: `run_sync`'s own loop, then the caller's
`asyncio.run`, then another. Each background task belongs to the loop that started it. A run starting on
another loop moves the task there: the old one is cancelled on its own loop (thread-safely: that loop may
be running in `run_sync`'s thread) and a new one is started. `aclose` stops them wherever they are.

A background task serves every run, not the one that happened to start it: `start_background` gives it a context of
its own, not a copy of that run's (whose trace would otherwise hold every later run's lease renewals and cancel checks,
as spans of a traced store or HTTP client, for as long as the task lives).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any

__all__ = ["here", "leave", "start_background", "stop"]


def start_background(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """A task running `coro` on the running event loop in an empty context: no caller's span (or other context
    variable) is current in it, whichever request or run started it."""
    return asyncio.create_task(coro, name=name, context=contextvars.Context())


def here(task: asyncio.Task[Any] | None) -> bool:
    """Whether `task` is alive on the running event loop."""
    return task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop()


def leave(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` if it is alive on another event loop (a closed loop's tasks are over already)."""
    if task is None or task.done():
        return
    loop = task.get_loop()
    if loop is not asyncio.get_running_loop() and not loop.is_closed():
        loop.call_soon_threadsafe(task.cancel)


async def stop(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` and, when it is of the running loop, wait until it has ended."""
    if here(task):
        assert task is not None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    else:
        leave(task)
