"""Closing an orchestrator with runs in flight: each is stopped and ends `cancelled` before the store is closed.

`Orchestrator.aclose` closes the store it opened. A run still in flight then could not commit its next step nor
its end: it would fail with the store's "not open" error, left `running` with its budget reserved until another
process resumed it. So `aclose` first stops every run of the orchestrator — as `cancel` does, but its caller gets the
`RunResult` (`status="cancelled"`), not a `CancelledError`, as for a run the store stopped — and waits until each has
committed its end (releasing what it reserved) and returned. New runs are refused meanwhile.

The runs under way also tell where an orchestrator is used: a run is refused (`UserError`) while others are under
way on another running event loop (what the runs share, the store's and the providers' connections, belongs to one
loop), and in a process forked from the one where it ran without being closed since (that process has them).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from typing import Any

from .._ids import forks
from .._shell import ipython_shell
from ..exceptions import UserError
from ._portal import RUN_SYNC_THREAD, forked_error

__all__ = ["CLOSED_WHILE_RUNNING", "Closing"]

CLOSED_WHILE_RUNNING = "the orchestrator was closed while the orchestration ran"
"""The `error` of a run that `aclose` stopped."""

_POLL_S = 0.01


class Closing:
    """The runs an orchestrator has under way, from the call that starts or drives one (`run`, `drive`) until it
    returns: `aclose` stops them (`stop_runs`) and waits for them before closing anything they use."""

    def __init__(self) -> None:
        self.closing = False
        """`aclose` is stopping the runs: new ones are refused; a run stopped now ends with `CLOSED_WHILE_RUNNING`."""
        self.held = 0
        """`close()`s under way: new runs are refused until each has also stopped `run_sync`'s loop (a run begun once
        `aclose` had returned was cancelled with that loop, its caller getting a bare `CancelledError`)."""
        self._under_way: dict[asyncio.AbstractEventLoop, int] = {}
        """Runs under way, by the event loop each runs on."""
        self._forks: int | None = None
        """`forks()` at the first run since the orchestrator was made or closed."""
        self._lock = threading.Lock()
        """Held to check that no other loop has runs under way and count this one in (each loop in its own thread)."""

    def enter(self) -> asyncio.AbstractEventLoop:
        """A run begins on the running loop; pair with `leave`. Refused (`UserError`) while the orchestrator is
        closing, while runs are under way on another running event loop, and in a process forked from the one where
        the orchestrator ran before being closed."""
        if self.closing or self.held:
            raise UserError(
                "the orchestrator is being closed (aclose/close): start runs before closing it, or on a new one"
            )
        here = forks()
        if self._forks is None:
            self._forks = here
        elif self._forks != here:  # (checked before the lock: a fork may have copied it held)
            raise forked_error("the orchestrator")
        loop = asyncio.get_running_loop()
        under_way = self._under_way
        with self._lock:
            others = [other for other in under_way if other is not loop and _live(other)]
            if others:
                raise UserError(_elsewhere(others))
            under_way[loop] = under_way.get(loop, 0) + 1
        return loop

    def leave(self, loop: asyncio.AbstractEventLoop) -> None:
        under_way = self._under_way
        with self._lock:
            left = under_way[loop] - 1
            if left:
                under_way[loop] = left
            else:
                del under_way[loop]

    async def stop_runs(self, stop: Callable[[], None], background: Callable[[], Iterable[asyncio.Task[Any]]]) -> None:
        """Refuse new runs; `stop()` those being driven (called again every few milliseconds: a run may begin to be
        driven meanwhile) until every run has returned and each task of `background()` (`start`'s tasks, perhaps
        not yet begun) has ended. Runs on an event loop that is not running cannot end: they are not waited for."""
        self.closing = True
        try:
            while self._waiting(background()):
                stop()
                await asyncio.sleep(_POLL_S)
        finally:
            self.closing = False
            self._forks = None  # (closed: a forked child may open what it uses anew)

    def under_way_on(self, loop: asyncio.AbstractEventLoop, background: Iterable[asyncio.Task[Any]]) -> bool:
        """Whether runs are under way on `loop` (or tasks of `background` will drive some there)."""
        return loop in self._under_way or any(not task.done() and task.get_loop() is loop for task in background)

    def _waiting(self, background: Iterable[asyncio.Task[Any]]) -> bool:
        return any(_live(loop) for loop in list(self._under_way)) or any(
            not task.done() and _live(task.get_loop()) for task in background
        )


def _elsewhere(loops: list[asyncio.AbstractEventLoop]) -> str:
    """Why a run is refused while runs are under way on `loops`. In Jupyter, `run_sync` while runs started in an
    earlier cell are under way on the kernel's loop, in the notebook's own thread: "in another thread" misled there."""
    main = threading.main_thread().ident
    if (
        threading.current_thread().name == RUN_SYNC_THREAD
        and ipython_shell() is not None
        and any(getattr(other, "_thread_id", None) == main for other in loops)
    ):
        return (
            "run_sync() cannot run while this orchestrator has runs under way on the notebook's event loop (a task "
            "made in an earlier cell, `asyncio.create_task(orchestrator.run(...))` or `start()`): run_sync runs on a "
            "loop of its own, and the store's and providers' connections belong to one loop at a time. `await` those "
            "runs first (`await task`), use `await orchestrator.run(...)` in this cell too, or another Orchestrator"
        )
    return (
        "this orchestrator has runs under way on another event loop (in another thread): its store's and "
        "providers' connections belong to one loop at a time. Use an orchestrator per event loop (one for "
        "run_sync, one for `await run(...)` in async code), or wait for those runs to end"
    )


def _live(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether tasks of `loop` can still end: it is the running loop or runs in another thread."""
    return loop.is_running() and not loop.is_closed()
