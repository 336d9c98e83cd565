"""A hand-back (`suspend`, a server's stop) with a store that is busy: another process holds SQLite's write lock. Each
attempt of the hand-back's commit waits the store's busy timeout; retried as a step's commit is (six attempts), the
stop took a minute or more (Kubernetes kills a pod 30 s after SIGTERM). The hand-back now gives up once another
attempt would end past its bound (10 s), without the lease's release (which would wait as long again): the run
stays `running`, its lease expires, and the next process resumes it, counting the abandoned call."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from orchestratex import FunctionProvider, Orchestrator
from orchestratex.providers import GenerationRequest
from orchestratex.records import Session, SessionSettings
from orchestratex.routing import BayesianRouter
from orchestratex.stores import SQLiteStore

from ..helpers import NO_WAIT, answer_attempt, catalog, score_of_answer, scripted

BUSY_S = 3.0
HANDBACK_S = 10.0  # (docs/server.md: a hand-back gives up after about 10 s)


class _Counting(SQLiteStore):
    """Counts the commits and lease releases an orchestrator sends."""

    def __init__(self, path: Path, **options: Any) -> None:
        super().__init__(path, **options)
        self.commits = 0
        self.releases = 0

    async def commit_step(self, *args: Any, **kwargs: Any) -> bool:
        self.commits += 1
        return await super().commit_step(*args, **kwargs)

    async def release(self, orchestration_id: str, owner: str) -> None:
        self.releases += 1
        await super().release(orchestration_id, owner)


async def test_a_hand_back_to_a_busy_store_is_bounded_and_the_run_is_resumed_later(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    waiting = asyncio.Event()
    base = scripted(answer_attempt, score_of_answer({1: 9.0}))
    hang = True

    async def calls(request: GenerationRequest) -> Any:
        if hang and request.purpose == "generate":
            waiting.set()
            await asyncio.sleep(3600)
        return await base.generate(request)

    def orchestrator(store: SQLiteStore, ttl: float) -> Orchestrator:
        return Orchestrator(
            providers=[FunctionProvider(calls)],
            catalog=catalog("a", "b", "c"),
            store=store,
            retry=NO_WAIT,
            router=BayesianRouter(explore=False),
            lease_ttl_s=ttl,
        )

    store = _Counting(path, busy_timeout=BUSY_S)
    async with orchestrator(store, 60.0) as orch:
        session = await orch.store.create_session(Session(user_id="alice", settings=SessionSettings(cost_limit=1.0)))
        doc = await orch.prepare("Write a sort function", session=session)
        task = orch.start(doc)
        await asyncio.wait_for(waiting.wait(), 30)
        commits, releases = store.commits, store.releases
        lock = sqlite3.connect(path, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            assert await orch.suspend(doc.id)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert task.done()
        handed_back = store.commits - commits
        assert 1 <= handed_back and handed_back * BUSY_S <= HANDBACK_S  # (each attempt waited the busy timeout)
        assert store.releases == releases  # its lease expires: not released after the hand-back failed
        owner = orch.owner

    hang = False
    async with SQLiteStore(path) as again, orchestrator(again, 60.0) as other:
        stored = await again.get_orchestration(doc.id)
        assert stored.status == "running"
        await again.release(doc.id, owner)  # (as its lease's expiry frees it)
        (resumed,) = await other.resume_pending()
    assert resumed.status == "completed"
    assert resumed.orchestration.interrupted_calls == 1  # the answer abandoned in flight, made again
