"""MongoStore reading documents an earlier version wrote, on the mongomock stand-in."""

from __future__ import annotations

from typing import Any

from bson import Int64, ObjectId

from orchestratex.records import Orchestration, Session, SessionSettings, Thread
from orchestratex_mongodb import MongoStore


async def test_a_cost_limit_over_a_million_an_earlier_version_stored_is_read_as_stored(mock_client: Any) -> None:
    # versions before orchestratex.usage.MAX_AMOUNT bounded a cost limit took any the store could hold
    async with MongoStore(client=mock_client, retry_backoff_s=0) as store:
        session = await store.create_session(Session(user_id="alice", settings=SessionSettings(cost_limit=1.0)))
        thread = await store.create_thread(Thread(session_id=session.id, user_id="alice", original_prompt="p"))
        run = await store.create_orchestration(
            Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p")
        )
        db = mock_client.get_database("orchestratex")
        db.raw("sessions").update_one(
            {"_id": ObjectId(session.id)},
            {"$set": {"settings.cost_limit": 5_000_000.0, "limit_pico": Int64(5_000_000 * 10**12)}},
        )
        db.raw("orchestrations").update_one({"_id": ObjectId(run.id)}, {"$set": {"settings.cost_limit": 4_000_000.0}})

        got = await store.get_session(session.id)
        assert got.settings.cost_limit == 5_000_000.0
        assert [s.settings.cost_limit for s in await store.list_sessions("alice")] == [5_000_000.0]
        assert await store.reserve_budget(session.id, run.id, 2.0)  # (over the $1 it was created with)
        stored = await store.get_orchestration(run.id)
        assert stored.settings.cost_limit == 4_000_000.0 and stored.status == "pending"
        assert await store.list_orchestrations(session_id=session.id) == [stored]
