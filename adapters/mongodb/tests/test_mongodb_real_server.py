"""MongoStore against a real MongoDB server: skipped unless `ORCHESTRATEX_TEST_MONGODB_URL` is set.

These are the only tests of what the mongomock stand-in cannot show: multi-document transactions,
change streams, write concern `majority`, Int64 storage, and the journaled commit path on a real
server. Transactions and change streams need a replica set (see docs/stores-mongodb.md for one
command that starts one and runs this module); on a standalone server those tests skip.

Each store uses a fresh database named `orchestratex_test_<ObjectId>`, dropped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from bson import Int64, ObjectId

from orchestratex.events import ModelSelected
from orchestratex.records import Orchestration, Session, SessionSettings, Thread
from orchestratex.testing.store_contract import StoreContract, StoreFactory
from orchestratex_mongodb import MongoStore

URL = os.environ.get("ORCHESTRATEX_TEST_MONGODB_URL", "")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not URL,
        reason="no real MongoDB: set ORCHESTRATEX_TEST_MONGODB_URL (docs/stores-mongodb.md gives one command)",
    ),
]


@pytest.fixture(scope="module")
def databases() -> Iterator[list[str]]:
    """Names of the databases the tests create; dropped when the module ends."""
    names: list[str] = []
    yield names
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]]
    with MongoClient(URL, serverSelectionTimeoutMS=5000) as client:
        for name in names:
            client.drop_database(name)


@pytest.fixture
def new_store(databases: list[str]) -> StoreFactory:
    def make(**options: Any) -> MongoStore:
        name = f"orchestratex_test_{ObjectId()}"
        databases.append(name)
        return MongoStore(URL, database=name, server_selection_timeout_ms=5000, **options)

    return make


class TestMongoStoreRealServerContract(StoreContract):
    """The shared contract with the deployment's defaults (transactions and change streams on a replica set)."""

    atomic_start = False  # (MongoStore.start is several writes)

    @pytest.fixture
    def store_factory(self, new_store: StoreFactory) -> StoreFactory:
        return new_store


class TestMongoStoreRealServerJournaledContract(StoreContract):
    """The shared contract on the journaled commit path (what a standalone server uses)."""

    atomic_start = False  # (MongoStore.start is several writes)

    @pytest.fixture
    def store_factory(self, new_store: Any) -> StoreFactory:
        return lambda: new_store(transactions=False, change_streams=False)


@pytest.fixture
async def store(new_store: Any) -> AsyncIterator[MongoStore]:
    async with new_store() as store:
        yield store


class _Crash(Exception):
    """The process dies here (the store catches no such exception)."""


async def _tree(store: MongoStore) -> tuple[Session, Orchestration]:
    session = await store.create_session(Session(user_id="alice", settings=SessionSettings(cost_limit=5.0)))
    thread = await store.create_thread(Thread(session_id=session.id, user_id="alice", original_prompt="p"))
    o = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p")
    return session, await store.create_orchestration(o)


def _selected(o: Orchestration, iteration: int) -> ModelSelected:
    return ModelSelected(
        orchestration_id=o.id,
        thread_id=o.thread_id,
        session_id=o.session_id,
        model_name="m",
        reasoning="r",
        iteration=iteration,
    )


def _replica_set_only(store: MongoStore) -> None:
    if not store.transactions:
        pytest.skip("needs a replica set or sharded cluster (transactions, change streams)")


async def test_real_server_write_concern_and_int64_amounts(store: MongoStore) -> None:
    session, o = await _tree(store)
    await store.commit(o, [_selected(o, 1)], spent=0.1)
    assert store._c.events.write_concern.document == {"w": "majority"}
    assert store._c.orchestrations.write_concern.document == {"w": "majority"}
    raw = await store._c.sessions.find_one({"_id": ObjectId(session.id)})
    assert raw is not None and isinstance(raw["total_pico"], Int64) and raw["total_pico"] == 10**11


async def test_real_server_stores_fields_named_with_dots(store: MongoStore) -> None:
    session, o = await _tree(store)
    event = _selected(o, 1)
    event.scores = {"openai:gpt-4.1": 0.75}
    await store.commit(o, [event])
    assert (await store.list_events(session.id))[0].model_dump() == event.model_dump()


async def test_real_server_transaction_rolls_back_a_failed_step(store: MongoStore, monkeypatch: Any) -> None:
    _replica_set_only(store)
    session, o = await _tree(store)
    assert await store.reserve_budget(session.id, o.id, 1.0)
    committer = store._committer
    original = committer._apply

    async def apply_then_fail(*args: Any, **kwargs: Any) -> None:
        await original(*args, **kwargs)
        raise RuntimeError("the process fails after writing, before the transaction commits")

    monkeypatch.setattr(committer, "_apply", apply_then_fail)
    o.final_response = "never saved"
    with pytest.raises(RuntimeError):
        await store.commit(o, [_selected(o, 1)], spent=0.5, released=1.0)
    got = await store.get_session(session.id)
    assert (got.total_cost, got.reserved_cost) == (0.0, 1.0)
    assert await store.list_events(session.id) == []
    assert (await store.get_orchestration(o.id)).final_response is None


async def test_real_server_journal_rolls_forward_on_takeover(new_store: Any, monkeypatch: Any) -> None:
    first = new_store(transactions=False)
    await first.open()
    try:
        session, o = await _tree(first)
        assert await first.claim(o.id, "one", 0.05)

        async def crash(*args: Any, **kwargs: Any) -> None:
            raise _Crash  # the process dies after the session update

        monkeypatch.setattr(first._committer, "_apply", crash)
        with pytest.raises(_Crash):
            await first.commit(o, [_selected(o, 1)], spent=0.25)
        monkeypatch.undo()
        second = MongoStore(URL, database=first.database, transactions=False)
        async with second:
            assert await second.list_events(session.id) == []
            await asyncio.sleep(0.1)
            assert await second.claim(o.id, "two", 30)
            assert [e.seq for e in await second.list_events(session.id)] == [1]
            assert (await second.get_session(session.id)).total_cost == 0.25
    finally:
        await first.close()


async def test_real_server_change_stream_wakes_watchers(new_store: Any) -> None:
    async with new_store() as watcher:
        _replica_set_only(watcher)
        writer = MongoStore(URL, database=watcher.database)
        async with writer:
            session, o = await _tree(writer)
            await writer.commit(o, [_selected(o, 1)])
            events = watcher.watch_events(session.id, poll_interval_s=30)  # polling alone would take 30 s
            async with contextlib.aclosing(events):
                assert (await asyncio.wait_for(anext(events), 10)).seq == 1
                pending = asyncio.ensure_future(anext(events))
                await asyncio.sleep(0.5)
                await writer.commit(o, [_selected(o, 2)])
                assert (await asyncio.wait_for(pending, 10)).seq == 2
