"""A naive `created_at` (a record imported from JSON written without an offset, `datetime.utcnow()`) is UTC in every
store, as MongoDB and `checks.created_order` take it, whatever the machine's time zone: listings interleave it with
aware times by the moment it names."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from orchestratex.records import Orchestration, Session, Thread
from orchestratex.stores import MemoryStore, SQLiteStore, Store

_NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["America/New_York", "Asia/Tokyo"])
def local_zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "runs.db")


def _three_times() -> list[datetime]:
    """Noon UTC, 12:15 UTC written naive, 12:30 UTC written in Paris time: in that order."""
    naive = (_NOON + timedelta(minutes=15)).replace(tzinfo=None)
    paris = (_NOON + timedelta(minutes=30)).astimezone(ZoneInfo("Europe/Paris"))
    return [_NOON, naive, paris]


async def test_listings_order_a_naive_created_at_as_utc(local_zone: str, store: Store) -> None:
    assert time.strftime("%Z", time.localtime()) != "UTC"
    async with store:
        later = [await store.create_session(Session(user_id="ada", created_at=at)) for at in reversed(_three_times())]
        assert [s.id for s in await store.list_sessions("ada")] == [s.id for s in reversed(later)]
        session = later[0]
        threads = [
            await store.create_thread(Thread(session_id=session.id, user_id="ada", original_prompt="p", created_at=at))
            for at in reversed(_three_times())
        ]
        assert [t.id for t in await store.list_threads(session.id)] == [t.id for t in reversed(threads)]
        runs = [
            await store.create_orchestration(
                Orchestration(thread_id=t.id, session_id=session.id, user_id="ada", prompt="p", created_at=t.created_at)
            )
            for t in threads
        ]
        assert [o.id for o in await store.list_orchestrations(session_id=session.id)] == [o.id for o in reversed(runs)]
        assert await store.list_resumable() == [o.id for o in reversed(runs)]
        got = await store.get_session(later[1].id)
        assert got.created_at == _three_times()[1]  # kept as given


async def test_spending_in_a_session_created_with_naive_times(local_zone: str, store: Store) -> None:
    # MemoryStore's `get_session` then failed with "TypeError: can't compare offset-naive and offset-aware
    # datetimes" (its `updated_at` against the time of the spending commit), and so did every read of the session
    naive = (_NOON - timedelta(days=1)).replace(tzinfo=None)
    async with store:
        session = await store.create_session(Session(user_id="ada", created_at=naive, updated_at=naive))
        thread = await store.create_thread(Thread(session_id=session.id, user_id="ada", original_prompt="p"))
        run = await store.create_orchestration(
            Orchestration(thread_id=thread.id, session_id=session.id, user_id="ada", prompt="p")
        )
        await store.commit(run, spent=0.25)
        got = await store.get_session(session.id)
        assert got.total_cost == 0.25 and got.updated_at == run.updated_at and got.created_at == naive
        assert (await store.list_sessions("ada"))[0].updated_at == got.updated_at
