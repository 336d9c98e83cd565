"""What an orchestrator keeps open while it runs: its store (closed by `aclose` when the orchestrator made it,
`resolve_store`) and the router's stored statistics, opened before the first run (`ensure_ready`), and the leases of
the runs it drives, renewed until they end (`LeaseKeeper`). `Orchestrator.aclose` closes them (see `_closing` for the
runs still in flight then)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from typing import TYPE_CHECKING, cast

from ..exceptions import StoreUnavailable, UserError
from ..stores import MemoryStore, Store, store_from_url
from ..stores._opening import open_checked
from ._background import here, leave, start_background, stop
from ._observe import RouterStore

if TYPE_CHECKING:
    from .orchestrator import Orchestrator

__all__ = ["LeaseKeeper", "ensure_ready", "release_store", "resolve_store"]

logger = logging.getLogger("orchestratex.orchestrator")


_HOLDERS: weakref.WeakKeyDictionary[Store, weakref.WeakSet[Orchestrator]] = weakref.WeakKeyDictionary()
"""Each store an orchestrator made (from a URL, or the default `MemoryStore`), with the orchestrators that hold it open
(opened it for their runs and have not closed since). Handed to another orchestrator (`Orchestrator(store=first.store)`)
it is theirs together, closed by the last of them to close: the first one's `close()` closed it under the other, whose
every run then failed with "… is not open"."""


def _holders(store: Store) -> weakref.WeakSet[Orchestrator] | None:
    try:
        return _HOLDERS.get(store)
    except TypeError:  # (a store of one's own that is not hashable: no orchestrator made it)
        return None


def resolve_store(store: Store | str | None) -> tuple[Store, bool]:
    """`Orchestrator(store=)` resolved: the store, and whether the orchestrator made it, or shares one another made
    (then `aclose` closes it, once no other orchestrator holds it open)."""
    if store is not None and not isinstance(store, Store | str):
        raise UserError(
            f"store must be a Store (MemoryStore(), SQLiteStore(path), …) or a store URL (sqlite:///runs.db), "
            f"not {type(store).__name__}"
        )
    if store is not None and not isinstance(store, str):
        return store, _holders(store) is not None
    made = store_from_url(store) if store is not None else MemoryStore()
    with contextlib.suppress(AttributeError):  # (a third-party store with slots keeps its own message)
        made._made_by_orchestrator = True  # (its "not open" error says the orchestrator opens it)
    _HOLDERS[made] = weakref.WeakSet()
    return made, True


async def release_store(orchestrator: Orchestrator, store: Store) -> None:
    """Close `store`, made by an orchestrator, as `orchestrator` closes, unless another orchestrator still holds it
    open: the last of them to close closes it."""
    holders = _holders(store)
    if holders is not None:
        holders.discard(orchestrator)
        if holders:
            return
    await store.close()


async def ensure_ready(orchestrator: Orchestrator) -> None:
    """Open the orchestrator's store and attach its router to the stored statistics (once; concurrent callers wait
    for the first, and a failure lets the next caller try again); a router put in place since is attached then, and a
    store put in place meanwhile is opened (and the router attached to it) in turn."""
    o = orchestrator
    while True:
        ready = o._ready
        if ready is None:
            ready = o._ready = asyncio.get_running_loop().create_future()
            store = o.store
            holders = _holders(store)
            if holders is not None:  # (held before it is opened: another orchestrator closing meanwhile leaves it be)
                holders.add(o)
            try:
                await open_checked(store)
                # (once: `attach` adds the stored statistics to the router's; they are then written with the runs'
                # commits: see _observe.py)
                await _attach_router(o, store)
            except BaseException as exc:
                if holders is not None:
                    holders.discard(o)
                ready.set_exception(exc)
                ready.exception()  # mark retrieved
                if o._ready is ready:
                    o._ready = None
                raise
            ready.set_result(None)
        elif not ready.done():
            # (not `await ready`: a waiter cancelled cancelled the future, and with it every other run waiting and
            # the opener's `set_result`; nor the opener's own cancellation handed to them: they open it themselves)
            await asyncio.wait((ready,))
            if not isinstance(ready.exception(), asyncio.CancelledError):
                ready.result()  # (the opener's error)
        if o._ready is ready:
            break
        # (`orchestrator.store = ...` meanwhile: it set `_ready` to None, "'NoneType' object has no attribute
        # 'set_result'" failed the run, and the router was marked attached to the new store it never read)
    await _attach_router(o, o.store)  # a router put in place since the store was opened (`orchestrator.router = ...`)


async def _attach_router(o: Orchestrator, store: Store) -> None:
    """Attach the orchestrator's router to `store` (opened) unless it is: once, the runs that need it meanwhile waiting
    for that attach (two runs started at once after `orchestrator.router = ...` each attached it: the second forgot
    what the first was loading, and the first then loaded the cascade statistics on top of the second's, so the router
    counted every stored answer after a rejection twice). A failed attach is tried again by the next caller; once
    `store` is no longer the orchestrator's (replaced meanwhile), nothing is marked attached: `ensure_ready` opens
    the new one and attaches the router to it."""
    loop = asyncio.get_running_loop()
    while not o._attached and o.store is store:
        pending = o._attaching
        if pending is not None and not pending.done() and pending.get_loop() is loop:
            await asyncio.wait((pending,))  # (not cancelled with a waiter that is)
            continue
        o._attaching = done = loop.create_future()
        router = o.router
        try:
            await router.attach(cast(Store, RouterStore(store)))
            if o.router is router and o.store is store:  # (a router or store put in place meanwhile: attached next)
                o._attached = True
        finally:
            done.set_result(None)


class LeaseKeeper:
    """Renews the leases of an orchestrator's running orchestrations, so no other process resumes them: one
    `Store.renew_leases` call for all of them every `lease_ttl_s / 3` (a failed one is tried again then), from one
    background task that ends as soon as none is held (`drop`): a task left sleeping would keep the orchestrator,
    and the store it opened, from being collected for up to `lease_ttl_s / 3`.

    A lease that may have lapsed is not simply taken back: when more than `lease_ttl_s` passed since it was last
    granted (the process was paused past it: a stopped container, a suspended VM; or its renewals failed that long),
    another process may have taken the run over meanwhile, perhaps to its end, and given it up. It is taken back only
    when the stored run is still as this process last wrote it (`_take_back`); otherwise, and when a renewal did not
    return it, its run is `lost`: its next commit is refused (`Conflict`, nothing written), as a store that fences it
    refuses it, and the run is left to whichever process resumes it. Before, a renewal took such a lease back (the
    `Store` ABC's default `renew_leases`, MemoryStore) and the paused run wrote its stale state over the other's."""

    __slots__ = ("_granted", "_lapsed", "_o", "_prepared", "_sleeping", "_task", "held", "lost", "owed")

    def __init__(self, orchestrator: Orchestrator) -> None:
        self._o = orchestrator
        self.held: set[str] = set()
        """The orchestrations whose lease this process holds: those it drives (or is about to); `drop` removes one."""
        self.lost: set[str] = set()
        """Held orchestrations whose lease may have lapsed (see the class): their runs write nothing more."""
        self.owed: dict[str, bool] = {}
        """Held orchestrations whose run a `cancel` stopped and whose end the store did not take (`keep_for_cancel`):
        no run drives them; their lease is renewed, and the cancel written again after each renewal. With whether
        the run's start may not have been stored at all (nothing to cancel, then: `cancel` says nothing of it)."""
        self._granted: dict[str, float] = {}
        """When each held lease was last granted (`time.monotonic()` before the store call that granted it): a lease
        is renewed only once granted (`granted`), by the `Store.start` or `Store.claim` of its run."""
        self._lapsed: set[str] = set()
        """Lost leases that may have lapsed, to be taken back if no other process wrote their runs (`_take_back`)."""
        self._task: asyncio.Task[None] | None = None
        self._sleeping = False
        self._prepared: dict[str, float] = {}
        """The orchestrations `prepare` stored leased to this process, with when that lease was given
        (`time.monotonic()` before the call), in the order they were prepared: given once for `lease_ttl_s`, not
        renewed (see `prepared`)."""

    def start(self) -> None:
        """Renew the held leases from now on, on the running event loop."""
        if not here(self._task):  # (none yet, ended, or on another event loop: see `_background`)
            leave(self._task)
            self._task = start_background(self._keep(), "orchestratex-lease-keeper")

    def granted(self, oid: str, asked: float) -> None:
        """The store gave this process the lease of held `oid` with a call made at `asked` (`time.monotonic()`)."""
        if oid in self.held:
            self._granted[oid] = asked

    def prepared(self, oid: str, asked: float) -> None:
        """`prepare` stored `oid` leased to this process for `lease_ttl_s` with a call made at `asked`: a grace, given
        once and not renewed, for this process's `start`, `drive` or `resume_pending` to run it before another
        process's resume pass may (stored without one, a server on the same store ran it as "left by a stopped
        process", and this `start` then failed with `Conflict`, or returned the server's result). A worker that
        drives what an application prepares still takes it once the grace is over (`aclose` gives it up at once)."""
        prepared, since = self._prepared, time.monotonic() - self._o.lease_ttl_s
        while prepared:  # (forget those whose grace is over: oldest first)
            first, given = next(iter(prepared.items()))
            if given > since:
                break
            del prepared[first]
        prepared[oid] = asked

    def still_prepared(self) -> list[str]:
        """The orchestrations prepared here whose grace is not over, oldest first: the store does not list them as
        resumable meanwhile, this process's `resume_pending` runs them."""
        since = time.monotonic() - self._o.lease_ttl_s
        return [oid for oid, given in self._prepared.items() if given > since]

    def taken(self, oid: str) -> float | None:
        """A run of this process claimed `oid` (or was refused its lease): no longer held for it by `prepare`, which
        gave it its lease at the time returned (None for a run not prepared here)."""
        return self._prepared.pop(oid, None)

    def keep_for_cancel(self, oid: str, granted: float | None = None, *, unstored: bool = False) -> None:
        """The run of `oid` was cancelled and the store did not take its end (`StoreUnavailable`): its lease is kept
        (renewed; last granted at `granted` when no longer held) so that no other process resumes the run the user
        cancelled, and paid for it once the lease had expired; the cancel is written again after each renewal (a
        `cancel` of it once more: `take_owed`)."""
        self.held.add(oid)
        self.owed[oid] = unstored
        if granted is not None:
            self._granted[oid] = granted
        self.start()

    def take_owed(self, oid: str) -> tuple[float, bool] | None:
        """When the lease of `oid` was last granted, and whether its start may not have been stored, if it is held only
        for its cancel (`keep_for_cancel`): the caller claims it now to write that cancel (and keeps it for the cancel
        again if the claim fails)."""
        unstored = self.owed.get(oid)
        if unstored is None:
            return None
        granted = self._granted.get(oid, 0.0)
        self.drop(oid)
        return granted, unstored

    def drop(self, oid: str) -> None:
        """This process no longer holds the lease of `oid`; when it held no other, the keeper ends now."""
        held = self.held
        held.discard(oid)
        self.owed.pop(oid, None)
        self.lost.discard(oid)
        self._lapsed.discard(oid)
        self._granted.pop(oid, None)
        task = self._task
        if not held and self._sleeping and here(task):
            assert task is not None
            self._task = None  # (a run starting meanwhile starts a new one)
            task.cancel()

    async def _keep(self) -> None:
        o = self._o
        while self.held:
            self._sleeping = True
            try:
                await asyncio.sleep(o.lease_ttl_s / 3)
            finally:
                self._sleeping = False
            if self.held:
                with contextlib.suppress(Exception):
                    await self._renew(o)
            for oid in list(self.owed):  # (rarely any: a cancel the store did not take)
                await self._cancel_again(o, oid)

    async def _cancel_again(self, o: Orchestrator, oid: str) -> None:
        """Write the cancel of owed `oid` (`keep_for_cancel`) again; one that can no longer be written is logged."""
        if o._closer.closing:  # (runs are refused: `aclose` says what is left)
            return
        try:
            refused = not await o.cancel(oid)
        except Exception:  # (the store still does not take it: owed again, tried at the next renewal)
            refused = False
        current = asyncio.current_task()
        if current is not None and current.cancelling():  # (the keeper stopped meanwhile: `cancel` absorbed it)
            raise asyncio.CancelledError
        unstored = self.owed.get(oid, False)
        if refused and oid in self.owed:  # (not driven: ended, never stored, or gone; nothing more to write)
            self.drop(oid)
        if refused and not unstored:  # (its lease lapsed while the store did not answer, and another took the run)
            logger.warning(
                "orchestration %s was NOT cancelled: it ended, or another process took it over, before the store "
                "took its cancel",
                oid,
                extra={"orchestration_id": oid},
            )

    async def _renew(self, o: Orchestrator) -> None:
        """One renewal of the granted leases; one that may have lapsed is taken back only as `_take_back` says."""
        ttl, granted, lost, lapsed = o.lease_ttl_s, self._granted, self.lost, self._lapsed
        asked = time.monotonic()
        due = [oid for oid in granted if oid not in lost]
        for oid in due:
            if asked - granted[oid] > ttl:
                lapsed.add(oid)  # (its commits are refused until it is found to be as this process left it)
        lost.update(lapsed)
        due = [oid for oid in due if oid not in lost]
        renewed = await o.store.renew_leases(due, o.owner, ttl) if due else set()
        now = time.monotonic()
        for oid in due:
            at = granted.get(oid)
            if at is None:  # (dropped meanwhile)
                continue
            if oid not in renewed:  # another process holds it, or the run is gone
                lost.add(oid)
            elif now - at <= ttl:
                granted[oid] = asked
            else:  # renewed only after it may have lapsed
                lost.add(oid)
                lapsed.add(oid)
        for oid in list(lapsed):
            with contextlib.suppress(Exception):  # (tried again at the next renewal)
                await self._take_back(o, oid)
                lapsed.discard(oid)

    async def _take_back(self, o: Orchestrator, oid: str) -> None:
        """Hold the lease of `oid`, which may have lapsed, again if no other process wrote the run meanwhile: claimed,
        then read, it must be as this process's run committed it (its `updated_at`: the last commit's, or that of the
        commit under way meanwhile, which may land before it returns); else it stays lost and the lease is given up.
        (A process paused past its leases where no other took its runs over, a laptop asleep during a run, goes on.
        Compared with the last commit's alone, a run whose commit was under way, as a run's nearly always is, was
        lost to a renewal that came back late: a pause of the event loop, a long GC, was enough.)"""
        written = o._watcher.written_here(oid)
        if not written or oid not in self.held:
            return
        asked = time.monotonic()
        if not await o.store.claim(oid, o.owner, o.lease_ttl_s):
            return
        stored = await o.store.get_orchestration(oid)
        written |= o._watcher.written_here(oid)  # (a commit that landed meanwhile)
        if oid in self.held and oid in self.lost and stored.updated_at in written:
            self.lost.discard(oid)
            self._granted[oid] = asked
        elif oid in self.lost or oid not in self.held:  # (not once taken back meanwhile: the run goes on with it)
            await o.store.release(oid, o.owner)

    async def regained(self, oid: str) -> bool:
        """Whether the run of `oid`, whose lease is lost, holds it again: taken back now if it may only have lapsed
        (`_take_back`), for the run's commit; `StoreUnavailable` while the store cannot tell (the commit is retried)."""
        if oid in self._lapsed:
            try:
                await self._take_back(self._o, oid)
            except StoreUnavailable:
                raise
            except Exception:  # (as the renewal does: it is tried again there)
                return False
            self._lapsed.discard(oid)
        return oid not in self.lost

    async def aclose(self) -> None:
        """Stop renewing (`start` begins again), and give up the leases `prepare` gave runs this process did not
        start: another process resumes them at once, not once their grace is over (a store that fails meanwhile
        leaves the others to expire)."""
        task, self._task = self._task, None
        await stop(task)
        for oid, unstored in list(self.owed.items()):
            self.drop(oid)
            if unstored:  # (its start did not land, as far as this process knows)
                continue
            logger.warning(
                "orchestration %s was NOT cancelled: the store did not take its cancel before the orchestrator closed; "
                "it is left as it was, and any process's resume_pending() resumes it once its lease expires",
                oid,
                extra={"orchestration_id": oid},
            )
        o, prepared = self._o, self.still_prepared()
        self._prepared.clear()
        for oid in prepared:
            try:
                await o.store.release(oid, o.owner)
            except Exception:
                break
