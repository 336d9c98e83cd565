"""A run's writes: each step committed in one store call, events handed to handlers once stored."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Sequence

from ..events import (
    Event,
    dispatch,
)
from ..exceptions import (
    Conflict,
    StoreUnavailable,
)
from ..records import CallRecord
from ..stores import RoutingOutcome, Store
from ._candidates import Candidates
from ._checks import inactive_session
from ._durable import outcome, with_store_retries
from ._ledger import Ledger, Ready

__all__ = ["Committing"]

logger = logging.getLogger("orchestratex.orchestrator")


class Committing(Candidates):
    """Steps committed all or nothing (`Store.start`, then `Store.commit_step`), retried while the store is down."""

    __slots__ = ()

    async def _commit(
        self,
        events: list[Event],
        ledger: Ledger | None = None,
        *,
        reserve: float = 0.0,
        ready: Ready | None = None,
        outcomes: Sequence[RoutingOutcome] = (),
        release_lease: bool = False,
        deadline: float | None = None,
    ) -> None:
        """Commit the step: the orchestration, `events` (after any left pending) and `ledger`, all or nothing;
        with it (`Store.commit_step`), reserve `reserve` for the next call (the generation `ready`, held by
        the run once the store has reserved it), add the router's `outcomes` to its statistics and, for the
        final commit, give up the lease. Outcomes a failed commit did not write go with the next one. With
        `deadline` (`time.monotonic()`), `StoreUnavailable` is retried only while another attempt can end by then.

        The run's own bookkeeping changes only once the store has the commit: a commit that fails
        (after bounded retries of `StoreUnavailable`) leaves its events pending and its ledger open,
        so the run's final commit carries them; a cancellation while it is written waits for the
        outcome, so the step is neither lost nor settled twice.
        """
        events = [*self._pending, *events]
        outcomes = [*self._outcomes, *outcomes]
        spent = self._settle(ledger) if ledger is not None else 0.0  # added to doc.total_cost once only
        step = _Step(self, events, ledger, spent, reserve, ready, outcomes, release_lease)
        self._pending = events
        self._outcomes = outcomes
        if ledger is not None:
            self._open = ledger  # until the store has it, the final commit still owes this step

        try:
            await outcome(self._write(step, deadline), step.landed)
        finally:
            if step.stored and self.handlers:  # handlers see every stored event, even if the run is cancelled meanwhile
                for event in events:
                    await dispatch(self.handlers, event)

    async def _write(self, step: _Step, deadline: float | None = None) -> bool:
        """`_commit`'s write (`Store.commit_step`, or `Store.start` for the run's first), retried while the store
        is unavailable (until `deadline`); whether its reservation was made."""
        try:
            return await with_store_retries(
                step.send, self.o.store_retry, f"committing orchestration {self.doc.id}", deadline, self._ids
            )
        except StoreUnavailable:  # nothing was written: the run's final commit carries the step
            raise
        except Exception as exc:
            self.unknown = exc
            raise

    def _held(self, ready: Ready) -> None:
        """The store reserved the generation's worst case (and its judges') with the commit of its selection."""
        ready.ledger.reserved_in_store += ready.worst
        ready.ledger.reserved_local += ready.worst
        self.inflight += ready.worst + ready.prepay
        self.prepaid += ready.prepay
        self._open = ready.ledger
        self._ready = ready

    async def _start(self, store: Store, events: list[Event], reserve: float, release_lease: bool) -> bool:
        """The run's first commit: store the orchestration, its new thread, its lease, `events` and the reservation
        of `reserve` in one round trip (`Store.start`); whether `reserve` was reserved. Before it the run has made
        no call: nothing is spent, released or recorded. A run that ends before it (no model could be chosen, it
        was cancelled while routing) is stored ended, and its lease given up at once."""
        doc = self.doc
        asked = time.monotonic()
        started = await store.start(
            doc, thread=self._new_thread, owner=self.o.owner, ttl_s=self.o.lease_ttl_s, events=events, reserve=reserve
        )
        self.o._leases.granted(doc.id, asked)
        self.session_base = started.session.total_cost - doc.total_cost
        session = started.session
        if session.status in ("completed", "cancelled"):  # ended before the caller's (stale) Session said so
            self.refused = self.stop_asked = True  # it ends before its first call; its caller gets `Conflict`
            self.stop_why = inactive_session(session)
        if release_lease:
            try:
                await store.release(doc.id, self.o.owner)
            except Exception as exc:  # the lease expires after its ttl
                logger.warning("releasing the lease of %s failed: %s", doc.id, exc, extra=self._ids())
        return started.reserved


class _Step:
    """One commit of a run: what it writes (`send`, retried by `with_store_retries`) and the run's bookkeeping once
    the store has it (`landed`, `outcome`'s `record`). One slotted object rather than two closures, whose cells
    (and those of the frame defining them) a run would hold for the cyclic garbage collector while the store
    writes."""

    __slots__ = (
        "calls",
        "events",
        "ledger",
        "outcomes",
        "ready",
        "release_lease",
        "released",
        "reserve",
        "run",
        "spent",
        "stored",
    )

    def __init__(
        self,
        run: Committing,
        events: list[Event],
        ledger: Ledger | None,
        spent: float,
        reserve: float,
        ready: Ready | None,
        outcomes: Sequence[RoutingOutcome],
        release_lease: bool,
    ) -> None:
        self.run, self.events, self.ledger, self.spent = run, events, ledger, spent
        self.calls: list[CallRecord] = list(ledger.calls) if ledger is not None else []
        self.released = ledger.reserved_in_store if ledger is not None else 0.0
        self.reserve, self.ready = reserve, ready
        self.outcomes, self.release_lease = outcomes, release_lease
        self.stored = False
        """The store has the step (`landed` ran)."""

    def send(self) -> Awaitable[bool]:
        """The write (`Store.start` for the run's first); whether `reserve` was reserved."""
        run = self.run
        if run.unstarted:
            return run._start(run.o.store, self.events, self.reserve, self.release_lease)
        if run.doc.id in run.o._leases.lost:
            return self._regained()
        return self._send()

    async def _regained(self) -> bool:
        """The write of a run whose lease is lost: after taking it back, when it may only have lapsed and the run is
        stored as its last commit left it (the store unreachable past `lease_ttl_s` while this commit was retried:
        still unreachable, the take-back raises `StoreUnavailable` and the commit is retried again)."""
        run = self.run
        if not await run.o._leases.regained(run.doc.id):
            raise Conflict(
                f"orchestration {run.doc.id} is left to the process that resumes it: its lease may have lapsed, "
                f"not renewed within lease_ttl_s={run.o.lease_ttl_s:g} s (the process was paused, or the store "
                "unreachable), and another process may have taken the run over meanwhile"
            )
        return await self._send()

    def _send(self) -> Awaitable[bool]:
        run = self.run
        return run.o.store.commit_step(
            run.doc,
            self.events,
            calls=self.calls,
            spent=self.spent,
            released=self.released,
            owner=run.o.owner,
            reserve=self.reserve,
            outcomes=self.outcomes,
            release_lease=self.release_lease,
        )

    def landed(self, granted: bool) -> None:
        run, ledger, events = self.run, self.ledger, self.events
        self.stored = True
        run.stored_at = run.doc.updated_at
        run.unstarted = False
        run._new_thread = None  # stored
        run._pending = ()
        run._outcomes = ()
        if ledger is not None:
            run.inflight -= ledger.reserved_local
            if ledger is run._open:
                run._open = None
        run.emitted.extend(events)
        if run.session_limit is not None:  # (what the session has spent at least, for this orchestrator's next runs)
            run.o._spent.saw(run.doc.session_id, run.session_base + run.doc.total_cost)
        if granted and self.reserve and self.ready is not None:
            run._held(self.ready)
        if self.release_lease:
            run.lease_released = True
            run.o.lease_given_up(run.doc.id)
