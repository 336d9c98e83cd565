"""Driving a run: `run` plans it and drives it under a new lease, `drive` claims the lease of a stored one; either
hands the run to the cancel watcher, gives the lease back when the run has not, and returns its `RunResult`.
`run_stream` and `start` (a background task) drive them too."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .._seal import seal
from ..events import Event, EventHandler, OrchestrationFailed, OrchestrationStarted
from ..exceptions import Conflict, StoreUnavailable
from ..records import Orchestration, Session, Thread
from ..routing import detect_domain
from ..stores import Store
from ._chat import ChatInput
from ._checks import check_handlers, check_options
from ._lifecycle import ensure_ready
from ._plan import plan
from ._result import RunOptions, RunResult
from ._run import Run
from ._run_state import answer_record
from ._stream import DeltaSink, RunStream, StreamItem

if TYPE_CHECKING:
    from .orchestrator import Orchestrator

__all__ = ["NOT_CLAIMED", "drive_leased", "drive_stored", "run_prompt", "start_task", "stored_events", "stream_run"]

logger = logging.getLogger("orchestratex.orchestrator")

NOT_CLAIMED = "raised claiming the orchestration's lease: nothing of its run was done"
"""The note (`add_note`) on an error `drive` raised claiming a stored run's lease (a store busy past its timeout): the
run was not begun, as a caller's log should say (the server's said it "stopped")."""


async def run_prompt(
    orchestrator: Orchestrator, prompt: ChatInput, on_delta: DeltaSink | None, options: RunOptions
) -> RunResult:
    """`run` with `on_delta`; `options` (changed) is the caller's to give away."""
    o = orchestrator
    check_options(options)
    on_event = options.pop("on_event", ())
    check_handlers(on_event)
    loop = o._closer.enter()  # (`aclose` waits for it)
    try:
        doc, thread, session = await plan(o, prompt, **options)  # type: ignore[misc]
        del options
        task = asyncio.current_task()
        if task is not None:
            o._tasks[doc.id] = task
        try:
            # the run routes first, then stores the thread, the orchestration with its first routing decision,
            # its lease and the first call's reservation in one round trip (`Store.start`)
            o._leases.held.add(doc.id)
            drive = drive_leased(o, doc.id, doc, session, on_event, on_delta, start=True, new_thread=thread)
            thread = None  # (see `drive_leased`)
            return await drive
        finally:
            o._tasks.pop(doc.id, None)
    finally:
        o._closer.leave(loop)


def stream_run(orchestrator: Orchestrator, prompt: ChatInput, options: RunOptions) -> RunStream:
    """`run_stream`: the run starts when the stream is entered, its events and deltas handed to the stream."""
    o = orchestrator

    async def start(put: Callable[[StreamItem], None]) -> RunResult:
        handlers = options.get("on_event", ())
        check_handlers(handlers)
        run_options = options.copy()
        run_options["on_event"] = [*([handlers] if callable(handlers) else handlers), put]
        return await run_prompt(o, prompt, put, run_options)

    async def ended(orchestration_id: str) -> RunResult:
        doc = await o.store.get_orchestration(orchestration_id)
        return RunResult(doc, await stored_events(o.store, doc), o.simulated)

    return RunStream(start, ended)


def start_task(
    orchestrator: Orchestrator, orchestration: Orchestration | str, on_delta: DeltaSink | None
) -> asyncio.Task[RunResult]:
    """`start`: a task driving `orchestration` (`drive`), the one `cancel` and `suspend` stop while it runs."""
    o = orchestrator
    oid = orchestration.id if isinstance(orchestration, Orchestration) else orchestration
    task = asyncio.create_task(o.drive(orchestration, on_delta=on_delta), name=f"orchestration-{oid}")
    o._started.add(task)
    running = o._tasks.get(oid)
    if running is None or running.done():  # (a second start of a run under way fails with `Conflict`: the
        o._tasks[oid] = task  # first stays the one `cancel` and `suspend` stop)
        task.add_done_callback(lambda done: _forget_task(o, oid, done))
    return task


def _forget_task(orchestrator: Orchestrator, oid: str, task: asyncio.Task[RunResult]) -> None:
    if orchestrator._tasks.get(oid) is task:
        del orchestrator._tasks[oid]


async def drive_stored(
    orchestrator: Orchestrator,
    orchestration: Orchestration | str,
    on_event: EventHandler | Sequence[EventHandler],
    on_delta: DeltaSink | None,
) -> RunResult:
    """`drive`: claim the lease of a stored orchestration (`Conflict` when this process or another holds it),
    then drive it."""
    o = orchestrator
    if on_event:
        check_handlers(on_event)
    loop = o._closer.enter()  # (`aclose` waits for it)
    try:
        await ensure_ready(o)
        doc = orchestration if isinstance(orchestration, Orchestration) else None
        oid = doc.id if doc else str(orchestration)
        # the lease is this process's: a second run would race the first; one held only for its cancel (which the
        # store did not take) is this run's to claim, to write that cancel
        owed = o._leases.take_owed(oid)
        if oid in o._leases.held:
            raise Conflict(f"orchestration {oid} is already being run by this orchestrator")
        o._leases.held.add(oid)
        asked = time.monotonic()
        try:
            claimed = await o.store.claim(oid, o.owner, o.lease_ttl_s)
        except BaseException as exc:
            o._leases.drop(oid)
            if owed is None and isinstance(exc, StoreUnavailable) and oid in o._cancelling:
                prepared = o._leases.taken(oid)  # (a prepared run `cancel` ends: its lease is still `prepare`'s)
                owed = None if prepared is None else (prepared, False)
            if owed is not None:  # (still this process's, for the cancel)
                o._leases.keep_for_cancel(oid, owed[0], unstored=owed[1])
            if isinstance(exc, Exception):
                exc.add_note(NOT_CLAIMED)
            raise
        o._leases.taken(oid)
        if not claimed:
            o._leases.drop(oid)
            raise Conflict(
                f"orchestration {oid} is being run by another process, or was just prepared by another orchestrator, "
                "whose start() it is held for (lease_ttl_s)"
            )
        o._leases.granted(oid, asked)
        if owed is not None and (task := asyncio.current_task()) is not None:
            # (held for its cancel, which the store did not take: it ends `cancelled`, as its user asked; driven on,
            # a `drive` or `resume_pending` of it here made the calls the user had cancelled, and paid for them)
            o._watcher.end_on_entry(oid, task)
        return await drive_leased(o, oid, doc, None, on_event, on_delta)
    finally:
        o._closer.leave(loop)


async def drive_leased(
    orchestrator: Orchestrator,
    oid: str,
    doc: Orchestration | None,
    session: Session | None,
    on_event: EventHandler | Sequence[EventHandler],
    on_delta: DeltaSink | None,
    *,
    start: bool = False,
    new_thread: Thread | None = None,
) -> RunResult:
    """Drive orchestration `oid`, whose lease this process holds: `doc` and its `session`, or (`session` None)
    as the store has them now. With `start`, `doc` is not stored yet: the run stores it (with `new_thread`) with its
    first routing decision (`Store.start`), its budget based on `session` meanwhile."""
    o = orchestrator
    built: Run | None = None
    try:
        if session is None or doc is None:
            stored = await o.store.get_orchestration(oid)  # under the lease: what the last owner left
            if doc is None or stored.updated_at != doc.updated_at or stored.status != doc.status:
                doc = stored
        if doc.status in ("completed", "failed", "cancelled"):
            o._leases.drop(oid)
            await o.store.release(oid, o.owner)
            return RunResult(doc, await stored_events(o.store, doc), o.simulated)
        if not start and doc.status == "running":
            await _check_same_kind(o, doc)
        o._leases.start()
        # (a tuple, no list kept aside: a run without handlers holds the shared empty one)
        handlers = (*o.handlers, *((on_event,) if callable(on_event) else on_event))
        try:
            run = Run(o, doc, handlers, on_delta, session, start=start, new_thread=new_thread)
        except Exception as exc:
            if not start:  # (a run to start is not stored yet: nothing is left behind)
                await _end_unbuilt(o, doc, exc)
            raise
        del handlers
        built = run
        new_thread = None  # the run stores it, then drops it: nothing else keeps it for the whole run
        # (a resumed run asks the store whether to stop as it reads its session, before any call: the watcher's first
        # question about it comes after `cancel_check_s`, as about a run just started)
        fresh = run.resumed or (session is not None and session.status == "active")
        await o._watcher.drive(run, fresh=fresh)
    except asyncio.CancelledError:
        o._leases.drop(oid)
        await asyncio.shield(_release(o, oid))  # (a failure replaced the CancelledError: `wait_for` raised it)
        raise
    except BaseException as exc:
        await _let_go(o, oid, exc, unstored=start and (built is None or built.unstarted))
        raise
    o._leases.drop(oid)
    if not run.lease_released:  # (the final commit gives it up; a suspended run's is given up here)
        await o.store.release(oid, o.owner)
    if run.refused and run.stop_why is not None:  # its session had ended: stored `cancelled`, no call made
        raise Conflict(run.stop_why)
    events = await stored_events(o.store, doc) if run.resumed else run.emitted
    if run.resumed:  # (the run sealed its own records as it made them)
        seal(events)
    return RunResult(doc, events, o.simulated)


async def _let_go(orchestrator: Orchestrator, oid: str, exc: BaseException, *, unstored: bool = False) -> None:
    """Give up the lease of `oid`, whose run raised `exc`; not after a hand-back (`suspend`) the store did not take
    (`StoreUnavailable`): the lease expires, rather than the stop wait for a busy store once more. A release that
    fails is logged, and the lease expires: the run's caller gets `exc`, not the release's error (a store failing
    now, as it often is when the run failed, said `StoreUnavailable`, "nothing was written", for a run stopped by
    an error that leaves unknown whether its step was written)."""
    if isinstance(exc, StoreUnavailable) and oid in orchestrator._cancelling:
        # its cancel not written: no other process resumes it meanwhile (`unstored`: its start did not land, as far
        # as this process knows; a MongoDB start may have inserted it all the same)
        orchestrator._leases.keep_for_cancel(oid, unstored=unstored)
        return
    orchestrator._leases.drop(oid)
    if not (isinstance(exc, StoreUnavailable) and oid in orchestrator.suspending):
        await _release(orchestrator, oid)


async def _release(orchestrator: Orchestrator, oid: str) -> None:
    """Give up the lease of `oid`, whose run ended with an exception: a failure is logged, not raised in place of the
    run's own (the lease expires)."""
    try:
        await orchestrator.store.release(oid, orchestrator.owner)
    except Exception as failed:
        logger.warning(
            "releasing the lease of %s failed (it expires after lease_ttl_s): %s",
            oid,
            failed,
            extra={"orchestration_id": oid},
        )


class OtherModels(Conflict):
    """A run began on simulated models and this orchestrator calls real ones, or the other way round: it is left for an
    orchestrator of its own kind to resume (`resume_pending` leaves it out, as one another process runs)."""


async def _check_same_kind(orchestrator: Orchestrator, doc: Orchestration) -> None:
    """Raise `OtherModels` when running `doc` began on simulated models and `orchestrator` has real ones, or the other
    way round (its `orchestration_started` says): a server given provider keys resumed a run detached from the offline
    demo with real, paid calls (its simulated models unknown to it, every step fell back to a real one), and one
    without keys finished a real run with the simulator's answers."""
    o = orchestrator
    first = await o.store.list_events(doc.session_id, orchestration_id=doc.id, limit=1)
    if not first or not isinstance(first[0], OrchestrationStarted) or first[0].simulated == o.simulated:
        return
    if first[0].simulated:
        why = "it began on the offline simulator's models and this orchestrator calls real, paid ones"
        where = "an orchestrator without provider keys (the simulator) resumes it"
    else:
        why = "it began on real models and this orchestrator has only the offline simulator's"
        where = "an orchestrator with the provider keys it ran with resumes it"
    said = o._said_other_kind
    if doc.id not in said:  # (once per run: `resume_pending` comes back to it at every round)
        said.add(doc.id)
        logger.warning("orchestration %s is not resumed here: %s; %s", doc.id, why, where, extra=_ids(doc))
    raise OtherModels(f"orchestration {doc.id} is not resumed here: {why}; {where}")


async def _end_unbuilt(orchestrator: Orchestrator, doc: Orchestration, exc: Exception) -> None:
    """End stored orchestration `doc`, whose `Run` could not be built (`exc`): `failed` with the reason and its
    `orchestration_failed` event, what a dead process held reserved for it released, its lease given up. It was left
    `pending` (or `running`) for the next process to take up and fail on the same way. When the store cannot take it,
    it stays as it was (logged), to be resumed."""
    o = orchestrator
    error = f"{type(exc).__name__}: {exc}"
    logger.error("orchestration %s could not be driven: %s", doc.id, error, exc_info=exc, extra=_ids(doc))
    try:
        if doc.status != "pending":
            await o.store.release_reservations(doc.session_id, doc.id)
        ids = _ids(doc)
        events: list[Event] = []
        domain = doc.domain
        if doc.status == "pending":  # (its first event, as a run that began would have stored it)
            domain = domain or detect_domain(doc.prompt)
            events.append(
                OrchestrationStarted(
                    **ids,
                    prompt=doc.prompt,
                    domain=domain,
                    max_iterations=doc.settings.max_iterations,
                    evaluation_threshold=doc.settings.evaluation_threshold,
                    simulated=o.simulated,
                )
            )
        events.append(
            OrchestrationFailed(
                **ids,
                reason="error",
                error=error,
                iterations=len(doc.iterations),
                total_cost=doc.total_cost,
            )
        )
        ended = doc.model_copy(update={"status": "failed", "stop_reason": "error", "error": error, "domain": domain})
        last = doc.iterations[-1] if doc.iterations else None
        # (an answer paid for and never judged: recorded, else the analytics would leave out what it cost)
        calls = [answer_record(doc, last, None)] if last is not None and last.phase == "generated" else []
        await o.store.commit_step(ended, events, calls=calls, owner=o.owner, release_lease=True)
    except Exception as failed:
        logger.warning("orchestration %s could not be ended failed: %s", doc.id, failed, extra=_ids(doc))


def _ids(doc: Orchestration) -> dict[str, str]:
    """The ids of `doc`'s run, as fields of a log line about it (a JSON log pipeline finds the line by them)."""
    return {"orchestration_id": doc.id, "thread_id": doc.thread_id, "session_id": doc.session_id}


async def stored_events(store: Store, doc: Orchestration) -> list[Event]:
    """The events of orchestration `doc` as stored."""
    return await store.list_events(doc.session_id, orchestration_id=doc.id, limit=100_000)
