"""`Store.start`'s composed default (a third-party store without a `start` of its own, or a built-in store wrapped to
count commits or inject faults, as docs/stores.md says tests do) is several writes. When one of them fails with
`StoreUnavailable`, the orchestrator retries the start: the retry completes it. It answered
`Conflict: thread '…' already exists` for the thread its own first attempt had made (or `orchestration '…' already
exists`, when its claim had failed), `run()` raised that, and the orchestration stayed `running` (`pending`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from orchestratex import Orchestrator, SimulatedProvider
from orchestratex.events import Event
from orchestratex.exceptions import StoreUnavailable
from orchestratex.records import CallRecord, Orchestration, Session
from orchestratex.stores import MemoryStore, SQLiteStore, Store


class FirstCommitFails(Store):
    """Wraps a store's `commit` (so its `start` is `Store`'s composed default): its first commit, the start's, fails
    without writing anything (`reason`), as a connection reset or a busy database would."""

    reason = "connection reset by peer: nothing was written"
    failed = False

    async def commit(
        self,
        orchestration: Orchestration,
        events: Sequence[Event] = (),
        *,
        calls: Sequence[CallRecord] = (),
        spent: float = 0.0,
        released: float = 0.0,
        owner: str | None = None,
    ) -> Sequence[Event]:
        if not self.failed:
            self.failed = True
            raise StoreUnavailable(self.reason)
        # (a mixin: `super()` is the concrete store it comes before, MemoryStore or SQLiteStore)
        return await super().commit(  # type: ignore[safe-super]
            orchestration, events, calls=calls, spent=spent, released=released, owner=owner
        )


class CommitFailsOnce(FirstCommitFails, MemoryStore):
    """A `MemoryStore` whose first commit fails."""


class ReadFailsAfterTheStart(MemoryStore):
    """The start's commit and reservation are written, then its last read (the session) fails: its retry must
    neither store the events again nor keep the first attempt's reservation."""

    def __init__(self) -> None:
        super().__init__()
        self.commits = 0
        self.failed = False

    async def commit(
        self,
        orchestration: Orchestration,
        events: Sequence[Event] = (),
        *,
        calls: Sequence[CallRecord] = (),
        spent: float = 0.0,
        released: float = 0.0,
        owner: str | None = None,
    ) -> Sequence[Event]:
        self.commits += 1
        return await super().commit(orchestration, events, calls=calls, spent=spent, released=released, owner=owner)

    async def get_session(self, session_id: str) -> Session:
        if self.commits == 1 and not self.failed:
            self.failed = True
            raise StoreUnavailable("timed out reading the session")
        return await super().get_session(session_id)


class ClaimFailsOnce(MemoryStore):
    """Wraps `claim` (so its `start` is the composed default): the start's claim, after it created the
    orchestration, fails without taking the lease. The retry answered `Conflict: orchestration '…' already exists`
    (the run it had just created), `run()` raised that, and the run stayed `pending`, unleased, for a server's
    `resume_pending` to pay for."""

    failed = False

    async def claim(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        if not self.failed:
            self.failed = True
            raise StoreUnavailable("connection reset by peer: nothing was written")
        return await super().claim(orchestration_id, owner, ttl_s)


class SQLiteCommitFailsOnce(FirstCommitFails, SQLiteStore):
    reason = "the SQLite database is busy: nothing was written"


@pytest.mark.parametrize("make", [CommitFailsOnce, ReadFailsAfterTheStart, ClaimFailsOnce, "sqlite"])
async def test_a_start_retried_after_a_failure_part_way_completes_the_run(make: object, tmp_path: Path) -> None:
    store: Store = SQLiteCommitFailsOnce(tmp_path / "runs.db") if make == "sqlite" else make()  # type: ignore[operator]
    async with Orchestrator(providers=[SimulatedProvider(seed=1, latency_scale=0.01)], store=store) as orchestrator:
        result = await orchestrator.run("Explain quicksort", cost_limit=1.0, max_iterations=2)
        assert result.status == "completed", result.error
        assert store.failed  # type: ignore[attr-defined]
        session_id = result.orchestration.session_id
        assert [o.id for o in await store.list_orchestrations(session_id=session_id)] == [result.id]
        assert len(await store.list_threads(session_id)) == 1
        events = await store.list_events(session_id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert [e.type for e in events].count("orchestration_started") == 1  # stored once
        session = await store.get_session(session_id)
        assert session.reserved_cost == 0.0 and session.total_cost == result.total_cost


async def test_a_start_over_an_existing_orchestration_is_still_a_conflict() -> None:
    # (what the retry takes for its own: the same run, leased to the same owner; not one created otherwise)
    from orchestratex.exceptions import Conflict
    from orchestratex.records import Thread

    async with CommitFailsOnce() as store:
        store.failed = True
        session = await store.create_session(Session(user_id="ada"))
        thread = await store.create_thread(Thread(session_id=session.id, user_id="ada", original_prompt="p"))
        run = await store.create_orchestration(
            Orchestration(thread_id=thread.id, session_id=session.id, user_id="ada", prompt="p")
        )
        with pytest.raises(Conflict, match="already exists"):
            await store.start(run, owner="me", ttl_s=60, reserve=0.5)
        assert await store.claim(run.id, "other", 60)  # it took no lease
        assert (await store.get_session(session.id)).reserved_cost == 0.0
        with pytest.raises(Conflict, match="already exists"):  # another one's lease: not taken over either
            await store.start(run, owner="me", ttl_s=60)


async def test_a_start_whose_claim_failed_is_not_completed_once_another_process_holds_the_run() -> None:
    # (its retry claims the run it created; a process resuming it meanwhile keeps it)
    from orchestratex.exceptions import Conflict
    from orchestratex.records import Thread

    async with ClaimFailsOnce() as store:
        session = await store.create_session(Session(user_id="ada"))
        thread = await store.create_thread(Thread(session_id=session.id, user_id="ada", original_prompt="p"))
        run = Orchestration(thread_id=thread.id, session_id=session.id, user_id="ada", prompt="p")
        with pytest.raises(StoreUnavailable):
            await store.start(run, owner="me", ttl_s=60, reserve=0.5)
        assert await store.claim(run.id, "resumer", 60)
        with pytest.raises(Conflict, match="another process"):
            await store.start(run, owner="me", ttl_s=60, reserve=0.5)
        assert (await store.get_session(session.id)).reserved_cost == 0.0
        assert not await store.claim(run.id, "me", 60)
