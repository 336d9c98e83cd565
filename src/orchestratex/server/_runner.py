"""Background orchestrations: started by the API, resumed from the store when a process died."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ..exceptions import Conflict
from ..orchestrator import Orchestrator
from ..orchestrator._driving import NOT_CLAIMED
from ..orchestrator._owners import free_leases_of_the_gone
from ..orchestrator._resume import resumable_here
from ..orchestrator._stream import DeltaSink
from ..records import Orchestration, Thread

__all__ = ["Runner"]

logger = logging.getLogger("orchestratex.server")


class Runner:
    """Drives orchestrations in the background of the server's event loop.

    Every `resume_every_s` seconds (and at start-up) it resumes the orchestrations the store lists
    as resumable: `pending` or `running` with no live lease, i.e. left by a process that died or
    stopped; on a SQLite file, also those whose lease a process of this machine held that has ended
    (`free_leases_of_the_gone`), without waiting for the lease to expire.
    An orchestration holds its user's concurrency slot while the store has it `pending` or
    `running`, so nothing here has to give slots back.
    """

    def __init__(self, orchestrator: Orchestrator, resume_every_s: float) -> None:
        self.orchestrator = orchestrator
        self.resume_every_s = resume_every_s
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._resumer: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._handing_back = False
        """The grace period is over: a run launched from now on is handed back at once."""
        self._hurry = asyncio.Event()
        """The stop was forced (a second Ctrl-C or stop signal): the grace period ends now."""
        self.cancelling: dict[str, asyncio.Future[bool]] = {}
        """The cancels of runs that a cancel request of this process is ending (`Orchestrator.cancel`): another request
        asking meanwhile waits for it, then is answered 409 as it would be a moment later (two concurrent cancels both
        answered 200, each as the one that ended the run)."""
        self._unclaimed: set[str] = set()
        """Runs whose claim failed here: tried again at the next resume pass (their lease may still be this
        process's, from `store_to_run`, so the store does not list them as resumable)."""

    @property
    def running(self) -> int:
        """Orchestrations this process is driving now."""
        return len(self._tasks)

    async def store_to_run(self, orchestration: Orchestration, thread: Thread | None = None) -> None:
        """Store a new `pending` orchestration (and its new `thread`) for `launch`, leased to this process from the
        start. Stored without a lease, it was resumable until the run claimed it: another server on the store whose
        resume pass fell in between ran it as "left by a stopped process", and this one's run, refused its lease,
        failed the request that started it (a `/v1` call answered 409 while its answer was being computed there).
        Left unclaimed (this process stopped first), it is resumable once the lease expires, as a running one."""
        o = self.orchestrator
        if self._handing_back:  # (the server stops: `launch` will not begin it, and the next server takes it at once)
            if thread is not None:
                await o.store.create_thread(thread)
            await o.store.create_orchestration(orchestration)
            return
        await o.store.start(orchestration, thread=thread, owner=o.owner, ttl_s=o.lease_ttl_s)

    def drives(self, orchestration_id: str) -> bool:
        """Whether this process is driving the orchestration now."""
        return orchestration_id in self._tasks

    def launch(self, orchestration: Orchestration | str, *, on_delta: DeltaSink | None = None) -> asyncio.Task[Any]:
        """Drive the orchestration in the background (unless this process already does); returns its task.
        With `on_delta`, its generations stream to it."""
        oid = orchestration.id if isinstance(orchestration, Orchestration) else orchestration
        running = self._tasks.get(oid)
        if running is not None:
            return running
        task = self.orchestrator.start(orchestration, on_delta=on_delta)
        self._tasks[oid] = task
        task.add_done_callback(lambda t: self._ended(oid, t))
        if self._handing_back:  # (a request answered while the server stops) not begun: it stays for the next
            task.cancel()
        return task

    def _ended(self, oid: str, task: asyncio.Task[Any]) -> None:
        self._tasks.pop(oid, None)
        self.orchestrator._stop_asked.discard(oid)
        if not task.cancelled():
            exc = task.exception()
            if exc is None or isinstance(exc, Conflict):  # Conflict: another process holds its lease
                return
            if NOT_CLAIMED in getattr(exc, "__notes__", ()):  # (it never ran here: nothing of it "stopped")
                self._unclaimed.add(oid)
                logger.warning(
                    "orchestration %s was not run: claiming its lease failed (%s: %s); it is left as it was and tried"
                    " again within %g s",
                    oid,
                    type(exc).__name__,
                    exc,
                    self.resume_every_s,
                    extra={"orchestration_id": oid},
                )
            else:
                logger.error(
                    "orchestration %s stopped: %s: %s", oid, type(exc).__name__, exc, extra={"orchestration_id": oid}
                )

    async def stop_session(self, session_id: str) -> int:
        """Cancel the orchestrations of `session_id` this process is running; returns how many."""
        found = []
        for oid in list(self._tasks):
            with contextlib.suppress(Exception):  # ended and gone meanwhile: nothing to stop
                if (await self.orchestrator.store.get_orchestration(oid)).session_id == session_id:
                    found.append(oid)
        # (a cancel the store did not take raises `StoreUnavailable`: that run is stopped here and its cancel written
        # once the store answers; the session's new status, written, is answered, not a 503)
        stopped = await asyncio.gather(*(self.orchestrator.cancel(oid) for oid in found), return_exceptions=True)
        return sum(done is True for done in stopped)

    def start_resuming(self) -> None:
        """Begin serving: resume runs now and every `resume_every_s`. An app's lifespan may run again after it ended
        (one `TestClient(app)` after another): what the last close left is forgotten, or every run launched would be
        handed back at once, left `pending`."""
        self._closing = None
        self._handing_back = False
        self._resumer = asyncio.create_task(self._resume_loop(), name="orchestratex-resumer")

    async def resume_once(self) -> list[str]:
        """Launch every resumable orchestration not already running here; returns their ids. One whose cancel was
        asked meanwhile (or whose session has ended) is ended `cancelled` as it begins, before any call: resumed as
        the others, it made a call (a judge's, the next answer) before its first check of the store stopped it, a
        call the provider may bill (`abandoned_calls`) for a run cancelled minutes before. The others do not ask the
        store again for themselves as they begin (`Orchestrator._stop_asked`): one round trip for the pass, not one more
        per run."""
        launched = []
        await free_leases_of_the_gone(self.orchestrator.store, self.orchestrator.owner)
        listed = await resumable_here(self.orchestrator, 100)
        retried = set(self._unclaimed)
        resumed = [oid for oid in dict.fromkeys([*retried, *listed]) if oid not in self._tasks]
        stop = await self.orchestrator.store.cancel_requests(resumed) if resumed else set()
        self._unclaimed -= retried  # (not before: were the store's answer to fail, they are tried again next time)
        for oid in resumed:
            if oid in self._tasks:  # (launched meanwhile: a cancel of it, say)
                continue
            if oid in stop:
                self._end(oid)
            else:
                self.orchestrator._stop_asked.add(oid)
                self.launch(oid)
            launched.append(oid)
        return launched

    def _end(self, oid: str) -> None:
        """End a resumable orchestration `cancelled` (`Orchestrator.cancel` of a run no task drives: before any call),
        counted among the runs of this process while it ends. The pass has just been told to end it: it does not ask
        the store again as it begins (`Orchestrator._stop_asked`), as the runs resumed with it do not."""
        self.orchestrator._stop_asked.add(oid)
        task = asyncio.ensure_future(self.orchestrator.cancel(oid))
        self._tasks[oid] = task
        task.add_done_callback(lambda t: self._ended(oid, t))

    async def _resume_loop(self) -> None:
        while True:
            try:
                launched = await self.resume_once()
                if launched:  # (each says `orchestration_started ... resumed=true` once its lease is claimed)
                    logger.info(
                        "resuming %d orchestration(s) left by a stopped process: %s", len(launched), ", ".join(launched)
                    )
            except Exception as exc:
                logger.warning("looking for orchestrations to resume failed: %s", exc)
            await asyncio.sleep(self.resume_every_s)

    def hurry(self) -> None:
        """End the grace period of a close now: the runs still going are handed back at once."""
        self._hurry.set()

    def begin_close(self, grace_s: float) -> asyncio.Task[None]:
        """Start `aclose(grace_s)` now without waiting for it (the server has begun to stop: requests waiting
        for a run must be answered within the grace period, not when the run ends); returns its task."""
        if self._closing is None:
            self._closing = asyncio.create_task(self._close(grace_s), name="orchestratex-runner-close")
        return self._closing

    async def aclose(self, grace_s: float) -> None:
        """Stop resuming; let running orchestrations finish for `grace_s` seconds, then suspend the rest:
        they stay `running`, their leases are given up, and the next server to start on this store (or
        another one sharing it) resumes them from their last committed step. After `begin_close`, this
        waits for the close it began (its grace period is not started again)."""
        await asyncio.shield(self.begin_close(grace_s))

    async def _close(self, grace_s: float) -> None:
        if self._resumer is not None:
            self._resumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resumer
        tasks = list(self._tasks.values())
        if tasks and grace_s > 0:
            # (a long grace period was a long silence after uvicorn's "Shutting down": say what the stop waits for)
            logger.info(
                "stopping: waiting up to %g s (shutdown_grace_s) for %d running orchestration(s) to finish"
                " (under `orchestratex serve`, a second Ctrl-C or SIGTERM hands them back at once)",
                grace_s,
                len(tasks),
            )
            ended = asyncio.ensure_future(asyncio.wait(tasks))
            hurried = asyncio.ensure_future(self._hurry.wait())
            try:
                await asyncio.wait((ended, hurried), timeout=grace_s, return_when=asyncio.FIRST_COMPLETED)
            finally:
                ended.cancel()
                hurried.cancel()
            if self._hurry.is_set() and self._tasks:
                logger.info("stopping: forced (a second Ctrl-C or stop signal): the grace period ends now")
        self._handing_back = True
        left = list(self._tasks.items())
        if left:
            logger.info(
                "stopping: handing back %d orchestration(s) still running, for the next server on this store to resume:"
                " %s",
                len(left),
                ", ".join(oid for oid, _ in left),
            )
        # together: each hand-back waits for the store (the step's spending, the lease), so one after another
        # the stop would take the grace plus that wait for every run
        await asyncio.gather(*(self.orchestrator.suspend(oid) for oid, _ in left))
        for _, task in left:
            task.cancel()  # one the orchestrator did not start (suspend found nothing to stop)
            with contextlib.suppress(BaseException):
                await task
