"""A process whose leases lapsed (paused past `lease_ttl_s`: SIGSTOP, a suspended VM; or its renewals failing that
long) while another took its runs over must not take them back with its next renewal and write its stale run over
the other's, whatever the store: the orchestrator itself treats such runs as lost. Two orchestrators (two processes)
share a store of one's own built on the public `Store` ABC, which keeps the ABC's default `renew_leases`."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from orchestratex import FunctionProvider, Orchestrator, RetryPolicy
from orchestratex.exceptions import Conflict, StoreUnavailable
from orchestratex.providers import GenerationRequest
from orchestratex.routing import BayesianRouter
from orchestratex.stores import MemoryStore, SQLiteStore, Store

from ..helpers import NO_WAIT, catalog

TTL = 0.3


class _OwnStore(MemoryStore):
    """A third-party store: the `Store` ABC's default `renew_leases` (a `claim` per run); unreachable from one owner
    while `failing` names it, or saying in its renewals that the lease is not that owner's while `denying` does."""

    def __init__(self) -> None:
        super().__init__()
        self.failing: str | None = None
        self.denying: str | None = None
        self.renewals: dict[str, int] = {}

    async def claim(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        if owner == self.failing:
            raise StoreUnavailable("the store cannot be reached from this process")
        return await super().claim(orchestration_id, owner, ttl_s)

    async def renew_leases(self, orchestration_ids: Sequence[str], owner: str, ttl_s: float) -> set[str]:
        self.renewals[owner] = self.renewals.get(owner, 0) + 1
        if owner == self.denying:
            return set()
        return await Store.renew_leases(self, orchestration_ids, owner, ttl_s)


class _FailingMemory(MemoryStore):
    """MemoryStore's own leases, unreachable from one owner while `failing` names it."""

    failing: str | None = None

    async def claim(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        if owner == self.failing:
            raise StoreUnavailable("the store cannot be reached from this process")
        return await super().claim(orchestration_id, owner, ttl_s)

    async def renew_leases(self, orchestration_ids: Sequence[str], owner: str, ttl_s: float) -> set[str]:
        if owner == self.failing:
            raise StoreUnavailable("the store cannot be reached from this process")
        return await super().renew_leases(orchestration_ids, owner, ttl_s)


class _FailingSQLite(SQLiteStore):
    """SQLite's own leases, unreachable from one owner while `failing` names it."""

    failing: str | None = None

    async def claim(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        if owner == self.failing:
            raise StoreUnavailable("the store cannot be reached from this process")
        return await super().claim(orchestration_id, owner, ttl_s)

    async def renew_leases(self, orchestration_ids: Sequence[str], owner: str, ttl_s: float) -> set[str]:
        if owner == self.failing:
            raise StoreUnavailable("the store cannot be reached from this process")
        return await super().renew_leases(orchestration_ids, owner, ttl_s)


class _Gate:
    """The model calls: the first answer waits for `go` (the paused process's call under way); all others answer at
    once. Judges give 9/10."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.go = asyncio.Event()
        self.answers = 0

    async def __call__(self, request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": 9.0, "feedback": "good"})
        self.answers += 1
        if self.answers == 1:
            self.entered.set()
            await self.go.wait()
            return "STALE answer of the paused process"
        return "answer of the process that took over"


def _orchestrator(store: Store, gate: _Gate, ttl: float) -> Orchestrator:
    return Orchestrator(
        providers=[FunctionProvider(gate)],
        catalog=catalog("a", "b", "c"),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        store=store,
        lease_ttl_s=ttl,
    )


async def _renewed(store: _OwnStore, owner: str, times: int) -> None:
    """Wait until `owner` has tried `times` more renewals."""
    target = store.renewals.get(owner, 0) + times
    for _ in range(1000):
        if store.renewals.get(owner, 0) >= target:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{owner} did not renew its leases")


@pytest.mark.parametrize("how", ["renewals_fail_past_the_ttl", "renewal_says_lost"])
async def test_a_lapsed_lease_is_not_taken_back_over_a_run_another_process_completed(how: str) -> None:
    store = _OwnStore()
    gate = _Gate()
    async with (
        _orchestrator(store, gate, TTL) as paused,
        _orchestrator(store, gate, 60.0) as other,
    ):
        session = await paused.create_session(cost_limit=1.0)
        doc = await paused.prepare("Write a sort function", session=session, evaluation_threshold=8)
        first = asyncio.create_task(paused.drive(doc.id))
        await asyncio.wait_for(gate.entered.wait(), 10)  # its answer is being written
        if how == "renewals_fail_past_the_ttl":
            store.failing = paused.owner
            await asyncio.sleep(TTL * 2)  # its lease has expired: the other process resumes the run
        else:
            store.denying = paused.owner
            await _renewed(store, paused.owner, 1)  # the store says the lease is not this process's any more
            await store.release(doc.id, paused.owner)  # (as a lease taken over, then given up, leaves it)
        (taken_over,) = await other.resume_pending()
        assert taken_over.status == "completed"
        assert taken_over.orchestration.final_response == "answer of the process that took over"
        store.failing = store.denying = None
        await asyncio.sleep(TTL)  # its renewals (every ttl / 3) would get through again: the freed lease is free
        gate.go.set()
        with pytest.raises(Conflict, match="lease"):
            await asyncio.wait_for(first, 10)

        stored = await store.get_orchestration(doc.id)
        assert stored.status == "completed"
        assert stored.final_response == "answer of the process that took over"
        assert [it.response for it in stored.iterations] == [it.response for it in taken_over.orchestration.iterations]
        events = await store.list_events(session.id, orchestration_id=doc.id)
        assert [e.type for e in events].count("orchestration_completed") == 1
        assert events[-1].type == "orchestration_completed"
        ledger = await store.get_session(session.id)
        assert ledger.total_cost == stored.total_cost
        assert ledger.reserved_cost == 0.0


@pytest.mark.parametrize("kind", ["own", "memory", "sqlite"])
async def test_a_lapsed_lease_no_other_process_took_is_taken_back_and_the_run_goes_on(
    kind: str, tmp_path: Path
) -> None:
    """Paused past its lease (a laptop asleep during a run) with no other process taking the run over: the stored run
    is as this process left it, so it takes its lease back and the run ends as it would have."""
    store: _OwnStore | _FailingMemory | _FailingSQLite = (
        _OwnStore()
        if kind == "own"
        else _FailingSQLite(tmp_path / "lapse.db")
        if kind == "sqlite"
        else _FailingMemory()
    )
    gate = _Gate()
    async with _orchestrator(store, gate, TTL) as alone:
        session = await alone.create_session(cost_limit=1.0)
        doc = await alone.prepare("Write a sort function", session=session, evaluation_threshold=8)
        run = asyncio.create_task(alone.drive(doc.id))
        await asyncio.wait_for(gate.entered.wait(), 10)
        store.failing = alone.owner
        await asyncio.sleep(TTL * 2)  # its lease has expired
        store.failing = None
        await asyncio.sleep(TTL)  # (its renewal finds the run as it left it)
        gate.go.set()
        result = await asyncio.wait_for(run, 10)
    assert result.status == "completed"
    assert result.final_response == "STALE answer of the paused process"  # (its own: the only one)


async def test_a_run_committing_while_the_sqlite_file_is_locked_past_its_lease_goes_on(tmp_path: Path) -> None:
    """Another process holds the SQLite file's write lock past `lease_ttl_s` while a run commits its answer (a long
    write, a backup): the commit is retried, the lease's renewals fail meanwhile, and nobody else takes the run over.
    Once the lock is free the run takes its lease back (the stored run is as it last committed it) and goes on. It
    raised `Conflict` ('left to the process that resumes it'), hidden by the `StoreUnavailable` of its lease's
    release, and stayed `running` for another process to resume."""
    path = tmp_path / "locked.db"
    store = SQLiteStore(path, busy_timeout=0.05)
    gate = _Gate()
    orchestrator = Orchestrator(
        providers=[FunctionProvider(gate)],
        catalog=catalog("a", "b", "c"),
        retry=NO_WAIT,
        store_retry=RetryPolicy(max_attempts=1000, initial_wait=0.02, max_wait=0.05),
        router=BayesianRouter(explore=False),
        store=store,
        lease_ttl_s=TTL,
    )
    async with orchestrator:
        session = await orchestrator.create_session(cost_limit=1.0)
        run = asyncio.create_task(orchestrator.run("Write a sort function", session=session, evaluation_threshold=8))
        await asyncio.wait_for(gate.entered.wait(), 10)
        other = sqlite3.connect(path, isolation_level=None)  # another process's connection to the file
        other.execute("BEGIN IMMEDIATE")
        try:
            gate.go.set()  # the answer's commit meets the lock
            await asyncio.sleep(TTL * 4)  # its lease expires in the store meanwhile
        finally:
            other.execute("ROLLBACK")
            other.close()
        result = await asyncio.wait_for(run, 30)
    assert result.status == "completed"
    assert result.final_response == "STALE answer of the paused process"  # (its own: the only one)
    async with SQLiteStore(path) as reopened:
        stored = await reopened.get_orchestration(result.id)
        assert stored.status == "completed"
        assert await reopened.list_resumable() == []
        ledger = await reopened.get_session(session.id)
        assert ledger.total_cost == stored.total_cost
        assert ledger.reserved_cost == 0.0


def _late_renewal_store(kind: str, tmp_path: Path) -> Store:
    """A store (`kind`: memory or sqlite) whose renewal, once `slow` is set, comes back past the lease's ttl (the event
    loop stalled: a long GC pause, a loaded machine), while the run's next commit, written, has not returned yet."""
    base: type[Store] = SQLiteStore if kind == "sqlite" else MemoryStore

    class LateRenewal(base):  # type: ignore[valid-type,misc]
        slow = False
        holding = False
        renewing = asyncio.Event()
        renewed = asyncio.Event()
        read_back = asyncio.Event()

        async def renew_leases(self, orchestration_ids: Sequence[str], owner: str, ttl_s: float) -> set[str]:
            if self.slow:
                self.slow = False
                self.renewing.set()
                await asyncio.sleep(ttl_s * 1.5)  # the lease has expired in the store when it comes back
                held: set[str] = await super().renew_leases(orchestration_ids, owner, ttl_s)
                self.renewed.set()
                return held
            renewed: set[str] = await super().renew_leases(orchestration_ids, owner, ttl_s)
            return renewed

        async def get_orchestration(self, orchestration_id: str) -> Any:
            doc = await super().get_orchestration(orchestration_id)
            if self.renewed.is_set():  # the late renewal's take-back reads the run while its commit is under way
                self.read_back.set()
            return doc

        async def commit_step(self, *args: Any, **kwargs: Any) -> bool:
            granted: bool = await super().commit_step(*args, **kwargs)
            if self.holding:
                self.holding = False
                await asyncio.wait_for(self.read_back.wait(), 10)
            return granted

    return LateRenewal(tmp_path / "late.db") if kind == "sqlite" else LateRenewal()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_a_renewal_back_late_while_the_run_commits_takes_the_lease_back(kind: str, tmp_path: Path) -> None:
    """A renewal comes back past `lease_ttl_s` (the process stalled) while the run's commit is under way: the stored
    run is the one that commit wrote, not yet the one the run last knew it stored. It is still this run's, so the
    lease is taken back and the run goes on. It was given up and the run failed with `Conflict` ('left to the process
    that resumes it'), left `running` for another process: CI's SIGKILL-and-resume test found it, its resumption
    lost under a loaded machine's pauses."""
    store = _late_renewal_store(kind, tmp_path)
    gate = _Gate()
    async with _orchestrator(store, gate, TTL) as alone:
        session = await alone.create_session(cost_limit=1.0)
        run = asyncio.create_task(alone.run("Write a sort function", session=session, evaluation_threshold=8))
        await asyncio.wait_for(gate.entered.wait(), 10)
        store.slow = True  # type: ignore[attr-defined]
        await asyncio.wait_for(store.renewing.wait(), 10)  # type: ignore[attr-defined]
        store.holding = True  # type: ignore[attr-defined]
        gate.go.set()  # the answer's commit is written, and returns once the take-back has read the run
        result = await asyncio.wait_for(run, 10)
        assert store.read_back.is_set()  # type: ignore[attr-defined]
        assert result.status == "completed"
        assert result.final_response == "STALE answer of the paused process"  # (its own: the only one)
        stored = await store.get_orchestration(result.id)
        assert stored.status == "completed"
        assert await store.list_resumable() == []
        ledger = await store.get_session(session.id)
        assert ledger.total_cost == stored.total_cost
        assert ledger.reserved_cost == 0.0
