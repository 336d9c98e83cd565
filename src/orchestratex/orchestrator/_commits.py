"""A run's writes: each step committed in one store call, events handed to handlers once stored."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from ..events import (
    Event,
    dispatch,
)
from ..exceptions import (
    StoreUnavailable,
)
from ..records import CallRecord
from ..stores import RoutingOutcome, Store
from ._candidates import Candidates
from ._durable import outcome, with_store_retries
from ._ledger import Ledger
from ._seal import seal

__all__ = ["Committing"]

logger = logging.getLogger("orchestratex.orchestrator")


class Committing(Candidates):
    """Steps committed all or nothing (`Store.start`, then `Store.commit_step`), retried while the store is down."""

    async def _commit(
        self,
        events: list[Event],
        ledger: Ledger | None = None,
        *,
        reserve: float = 0.0,
        on_reserved: Callable[[], None] | None = None,
        outcomes: Sequence[RoutingOutcome] = (),
        release_lease: bool = False,
    ) -> None:
        """Commit the step: the orchestration, `events` (after any left pending) and `ledger`, all or nothing;
        with it (`Store.commit_step`), reserve `reserve` for the next call (`on_reserved()` runs once the
        store holds it), add the router's `outcomes` to its statistics and, for the final commit, give up
        the lease. Outcomes a failed commit did not write go with the next one.

        The run's own bookkeeping changes only once the store has the commit: a commit that fails
        (after bounded retries of `StoreUnavailable`) leaves its events pending and its ledger open,
        so the run's final commit carries them; a cancellation while it is written waits for the
        outcome, so the step is neither lost nor settled twice.
        """
        events = [*self._pending, *events]
        outcomes = [*self._outcomes, *outcomes]
        doc = self.doc
        spent = self._settle(ledger) if ledger is not None else 0.0  # added to doc.total_cost once only
        calls = list(ledger.calls) if ledger is not None else []
        released = ledger.reserved_in_store if ledger is not None else 0.0

        stored = False

        def landed(granted: bool) -> None:
            nonlocal stored
            stored = True
            self.unstarted = False
            self._new_thread = None  # stored
            self._pending = []
            self._outcomes = []
            if ledger is not None:
                self.inflight -= ledger.reserved_local
                if ledger is self._open:
                    self._open = None
            seal(events)  # (the store has set their `seq`: they are final)
            self.emitted.extend(events)
            if granted and reserve and on_reserved is not None:
                on_reserved()
            if release_lease:
                self.lease_released = True
                self.o.lease_given_up(doc.id)

        self._pending = events
        self._outcomes = outcomes
        if ledger is not None:
            self._open = ledger  # until the store has it, the final commit still owes this step

        try:
            await outcome(self._write(events, calls, spent, released, reserve, outcomes, release_lease), landed)
        finally:
            if stored and self.handlers:  # handlers see every stored event, even if the run is cancelled meanwhile
                for event in events:
                    await dispatch(self.handlers, event)

    async def _write(
        self,
        events: list[Event],
        calls: list[CallRecord],
        spent: float,
        released: float,
        reserve: float,
        outcomes: Sequence[RoutingOutcome],
        release_lease: bool,
    ) -> bool:
        """`_commit`'s write (`Store.commit_step`, or `Store.start` for the run's first), retried while the store
        is unavailable; whether `reserve` was reserved."""
        doc, store, owner = self.doc, self.o.store, self.o.owner

        def step() -> Awaitable[bool]:
            if self.unstarted:
                return self._start(store, events, reserve, release_lease)
            return store.commit_step(
                doc,
                events,
                calls=calls,
                spent=spent,
                released=released,
                owner=owner,
                reserve=reserve,
                outcomes=outcomes,
                release_lease=release_lease,
            )

        try:
            return await with_store_retries(step, self.o.store_retry, f"committing orchestration {doc.id}")
        except StoreUnavailable:  # nothing was written: the run's final commit carries the step
            raise
        except Exception as exc:
            self.unknown = exc
            raise

    async def _start(self, store: Store, events: list[Event], reserve: float, release_lease: bool) -> bool:
        """The run's first commit: store the orchestration, its new thread, its lease, `events` and the reservation
        of `reserve` in one round trip (`Store.start`); whether `reserve` was reserved. Before it the run has made
        no call: nothing is spent, released or recorded. A run that ends before it (no model could be chosen, it
        was cancelled while routing) is stored ended, and its lease given up at once."""
        doc = self.doc
        started = await store.start(
            doc, thread=self._new_thread, owner=self.o.owner, ttl_s=self.o.lease_ttl_s, events=events, reserve=reserve
        )
        self.session_base = started.session.total_cost - doc.total_cost
        if started.session.status in ("completed", "cancelled"):  # ended since the caller read it: stop at once
            self.o._watcher.check_soon(doc.id)
        if release_lease:
            try:
                await store.release(doc.id, self.o.owner)
            except Exception as exc:  # the lease expires after its ttl
                logger.warning("releasing the lease of %s failed: %s", doc.id, exc)
        return started.reserved
