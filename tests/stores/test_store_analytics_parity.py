"""The same orchestrations give the same analytics in every built-in store, to the last digit: the mean final scores
were float sums, added in the order stored by `MemoryStore` and per (domain, status) group by `SQLiteStore`, and
differed in their last digit (5.93625 against 5.936249999999999)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from orchestratex.records import Orchestration, Session, Thread
from orchestratex.stores import Analytics, MemoryStore, SQLiteStore, Store


async def _analytics(store: Store, seed: int) -> tuple[Analytics, Analytics]:
    rnd = random.Random(seed)
    async with store:
        session = await store.create_session(Session(id="a" * 24, user_id="ada"))
        thread = await store.create_thread(
            Thread(id="b" * 24, session_id=session.id, user_id="ada", original_prompt="p")
        )
        for i in range(60):
            run = await store.create_orchestration(
                Orchestration(
                    id=f"{i:024x}",
                    thread_id=thread.id,
                    session_id=session.id,
                    user_id="ada",
                    prompt="p",
                    domain=rnd.choice(["coding", "math", None]),
                )
            )
            run.status = rnd.choice(["completed", "failed"])
            run.final_score = round(rnd.uniform(0, 10), rnd.choice([1, 2, 3]))
            await store.commit(run)
        return await store.session_analytics(session.id), await store.user_analytics("ada")


@pytest.mark.parametrize("seed", range(5))
async def test_memory_and_sqlite_give_the_same_mean_scores(seed: int, tmp_path: Path) -> None:
    memory = await _analytics(MemoryStore(), seed)
    sqlite = await _analytics(SQLiteStore(tmp_path / "runs.db"), seed)
    assert memory == sqlite
