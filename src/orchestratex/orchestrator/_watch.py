"""`CancelWatcher`: one task per orchestrator stops the runs the store says should stop."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._background import here, leave, start_background, stop

if TYPE_CHECKING:
    from datetime import datetime

    from ._run import Run
    from .orchestrator import Orchestrator

__all__ = ["CancelWatcher", "ending_here"]

CANCEL_REQUESTED = "a cancel was requested through the store (Store.request_cancel, or the server's cancel endpoint)"
"""The `error` of a run stopped because a cancel was requested, perhaps by another process."""


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # (a timer's callback runs in its loop: never here)
        return None


_SLACK_S = 0.001
"""A run due this close to now is asked about now (timers may fire a hair early)."""

_DRIVING: ContextVar[str | None] = ContextVar("orchestratex_driving", default=None)
"""The orchestration ending in this context: its task's, and that of the tasks it makes from then on (the handlers of
its last event too)."""


def ending_here(orchestration_id: str) -> None:
    """Mark the calling context (the run's task) as that of `orchestration_id` as it ends: `ending_within` reads it.
    Set as the run ends, not as it starts: set for each run in flight, the variable held a context mapping per run
    while it waited for its models."""
    _DRIVING.set(orchestration_id)


@dataclass(slots=True, eq=False)
class _Watched:
    run: Run
    task: asyncio.Task[Any]
    """The task driving the run: cancelled to stop it."""
    due: float
    """When the store is first asked about the run (event loop time)."""
    stopping: bool = False
    """The watcher cancelled `task` to stop the run: a cancellation `drive` absorbs."""
    ended: asyncio.Future[None] | None = None
    """Done once `drive` has returned (set by `stop`, for `Orchestrator.cancel` to wait on the run, not its task)."""


class CancelWatcher:
    """Stops an orchestrator's runs when the store says they should stop (`Store.cancel_requests`: a
    `request_cancel` from any process, or their session ended); they then end `cancelled`.

    One background task watches all the runs in progress: it starts with the first, ends when none
    is left, and every `cancel_check_s` asks the store about all of them in one call. A run is driven
    in its caller's task (no task of its own), which the watcher cancels to stop it; `drive` turns
    that cancellation into the run's normal end.
    """

    def __init__(self, orchestrator: Orchestrator) -> None:
        self._o = orchestrator
        self._runs: dict[str, _Watched] = {}
        self._task: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._ask_now = False
        self._stop_on_entry: set[str] = set()
        """Runs `Orchestrator.cancel` stopped before their task began driving them (see `stop_when_driven`)."""
        self._end_on_entry: set[str] = set()
        """Prepared runs `Orchestrator.cancel` ends as they begin, before any call (see `end_on_entry`)."""

    async def drive(self, run: Run, *, fresh: bool) -> None:
        """`run.drive()` in the calling task, stopped (ending `cancelled`, and returning normally) once the
        store says it should. A run already ending is left to finish; a cancellation of the calling task
        by anyone else (the caller, `Orchestrator.cancel`, `suspend`) propagates as usual. A `fresh` run
        (just started in a session found active, or resumed, which asks the store itself as it reads its
        session) is first asked about after `cancel_check_s`, any other (prepared earlier) at once."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("an orchestration is driven inside an asyncio task")
        oid = run.doc.id
        due = asyncio.get_running_loop().time() + (self._o.cancel_check_s if fresh else 0.0)
        watched = self._runs[oid] = _Watched(run, task, due)
        self._start(ask_now=not fresh)
        if oid in self._end_on_entry:  # a prepared run cancelled before any task drove it: ends at its first step
            self._end_on_entry.discard(oid)
            run.stop_asked = True
        if oid in self._stop_on_entry:  # cancelled while its task was still claiming or reading it: stopped now
            self._stop_on_entry.discard(oid)
            task.cancel()  # (raised at the run's first await, inside it: it ends `cancelled`)
        try:
            await run.drive()
        except asyncio.CancelledError:
            if not watched.stopping:
                raise
            watched.stopping = False
            if task.uncancel() > 0:  # the task was cancelled by someone else too
                raise
        finally:
            if _DRIVING.get() == oid:  # (`run` drives in its caller's task, which goes on)
                _DRIVING.set(None)
            if watched.ended is not None and not watched.ended.done():
                watched.ended.set_result(None)
            if self._runs.get(oid) is watched:
                del self._runs[oid]
            if watched.stopping:  # the run ended otherwise (an error) after being stopped: nothing is pending
                task.uncancel()
            if not self._runs:
                self._wake()  # (the watcher ends now, not after its sleep)

    def stop_when_driven(self, orchestration_id: str, task: asyncio.Task[Any]) -> bool:
        """For `Orchestrator.cancel`: whether `task` has yet to begin driving the run (it is claiming the lease or
        reading the orchestration); it is then cancelled as the run begins, so that the run ends `cancelled`.
        Cancelled now, it would stop before the run could write anything: left `pending` (perhaps with its lease
        held), holding its user's concurrency slot until resumed. False when the run is being driven."""
        if orchestration_id in self._runs:
            return False
        self._stop_on_entry.add(orchestration_id)
        task.add_done_callback(lambda _: self._stop_on_entry.discard(orchestration_id))  # (ended before its run)
        return True

    def end_on_entry(self, orchestration_id: str, task: asyncio.Task[Any]) -> None:
        """For `Orchestrator.cancel` of a prepared run that no task drove: `task`, which is to drive it, ends it
        `cancelled` at its first step, before any call (whether or not anything it awaits yields)."""
        self._end_on_entry.add(orchestration_id)
        task.add_done_callback(lambda _: self._end_on_entry.discard(orchestration_id))

    def written_here(self, orchestration_id: str) -> set[datetime]:
        """The `updated_at` values the store may have of the run being driven here from this process (none when it is
        not): its last commit's (or as read), and the one of its commit under way, which the store may have written
        though the commit has not returned yet."""
        watched = self._runs.get(orchestration_id)
        return {watched.run.stored_at, watched.run.doc.updated_at} if watched is not None else set()

    def stop(self, orchestration_id: str) -> asyncio.Future[None] | None:
        """For `Orchestrator.cancel` from another task: stop the run being driven here as when the store says so (it
        ends `cancelled` and its caller gets its `RunResult`, not a `CancelledError` it did not ask for); a future
        done once it has ended, to wait for the run rather than its caller's task (which goes on after the run).
        None when the run is not being driven on this event loop."""
        watched = self._runs.get(orchestration_id)
        if watched is None or watched.task.get_loop() is not _running_loop():
            return None
        if watched.ended is None:
            watched.ended = watched.task.get_loop().create_future()
        self._stop(watched)
        return watched.ended

    def stop_own(self, orchestration_id: str) -> bool:
        """For `Orchestrator.cancel` called in the task driving the run (by one of its event handlers): the run ends
        `cancelled` before its next call, and its caller gets its result, as when the store says to stop it. (Its
        task cancelled and awaited there would await itself: the cancellation was swallowed, and the run went on;
        cancelled alone, a run that never waits, as on a MemoryStore with instant models, would carry the
        cancellation past its end, to its caller.) False when the run is already ending."""
        watched = self._runs.get(orchestration_id)
        if watched is None or watched.task is not asyncio.current_task() or watched.run.done:
            return False
        watched.run.stop_asked = True
        return True

    def handling(self) -> str | None:
        """The run whose event handler calls this (in the run's task, or in that of its last event's handlers as it
        ends), if any: `Orchestrator.aclose` waiting there for every run to end would wait for that one, which waits
        for the handler."""
        oid = _DRIVING.get()  # (set as a run ends: its last event's handlers may run in a task of their own)
        watched = self._runs.get(oid) if oid is not None else None
        if watched is not None and watched.run.done:
            return oid
        task = asyncio.current_task()  # (a handler of an earlier event runs in the run's task: looked for, as aclose
        return next((oid for oid, watched in self._runs.items() if watched.task is task), None)  # is rare)

    def ending_within(self, orchestration_id: str) -> bool:
        """Whether this is called within the run (by a handler of its events) as it ends (its final commit is under
        way): `Orchestrator.cancel` or `suspend` waiting there for the run to end would wait for itself. (The handlers
        of a cancelled run's last event run in a task of their own: its final commit is shielded.)"""
        watched = self._runs.get(orchestration_id)
        return watched is not None and watched.run.done and _DRIVING.get() == orchestration_id

    async def aclose(self) -> None:
        """Stop the watcher (the runs it watched go on unwatched)."""
        task, self._task = self._task, None
        await stop(task)

    def _start(self, *, ask_now: bool) -> None:
        if not here(self._task):  # (none yet, ended, or on another event loop: see `_background`)
            leave(self._task)
            self._wakeup = None
            self._task = start_background(self._watch(), "orchestratex-cancel-watcher")
        elif ask_now:
            self._ask_now = True
            self._wake()

    def _wake(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done() and wakeup.get_loop() is _running_loop():
            wakeup.set_result(None)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while self._runs:
            self._ask_now = False
            now = loop.time()
            due = [w for w in self._runs.values() if w.due <= now + _SLACK_S and not w.stopping]
            if due:
                await self._ask(due)
            if not self._ask_now:
                await self._sleep(loop, self._o.cancel_check_s)

    async def _ask(self, due: list[_Watched]) -> None:
        try:
            stop = await self._o.store.cancel_requests([w.run.doc.id for w in due])
        except Exception:  # a store hiccup: ask again next time
            return
        # (a run `Store.start` refused, its session found ended, ends by itself and its caller gets `Conflict` saying
        # so: stopped here too, once its start had landed, it got this watcher's wording, or none)
        stopped = [w for w in due if w.run.doc.id in stop and not w.run.refused]
        if stopped:
            await self._explain(stopped)
        for w in stopped:
            if not w.run.refused:  # (its start may land while the session is read)
                self._stop(w)

    async def _explain(self, stopped: list[_Watched]) -> None:
        """Say why the store stops each run (its `error`): its session ended, or a cancel was requested. One
        `get_session` per session (the store's answer does not say which; a failed read says the less precise)."""
        sessions: dict[str, str | None] = {}
        for w in stopped:
            sid = w.run.doc.session_id
            if sid not in sessions:
                try:
                    sessions[sid] = (await self._o.store.get_session(sid)).status
                except Exception:
                    sessions[sid] = None
            status = sessions[sid]
            if w.run.refused:
                continue
            if status in ("completed", "cancelled"):
                w.run.stop_why = f"its session {sid} is {status}: orchestrations run only in an active session"
            elif status is not None:
                w.run.stop_why = CANCEL_REQUESTED

    def stop_all(self) -> None:
        """For `Orchestrator.aclose`: stop every run being driven as if the store had said so (each ends `cancelled`
        and its caller gets its result). Runs driven on another event loop are stopped there."""
        running = _running_loop()
        for w in list(self._runs.values()):
            loop = w.task.get_loop()
            if loop is running:
                self._stop(w)
            elif loop.is_running():
                loop.call_soon_threadsafe(self._stop, w)

    def _stop(self, w: _Watched) -> None:
        if (
            self._runs.get(w.run.doc.id) is w
            and not w.run.done  # (a run already ending is left to finish)
            and not w.task.done()
            and not w.task.cancelling()  # (already being stopped, by someone else too)
        ):
            w.stopping = True
            w.task.cancel()

    async def _sleep(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        """Sleep `seconds`, or less when `_wake` is called."""
        wakeup = self._wakeup = loop.create_future()
        timer = loop.call_later(seconds, self._wake)
        try:
            await wakeup
        finally:
            timer.cancel()
            self._wakeup = None
