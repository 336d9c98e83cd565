"""The shared Store contract, run against both built-in stores."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from orchestratex.records import Orchestration, Session, Thread
from orchestratex.stores import MemoryStore, SQLiteStore, Store
from orchestratex.testing.store_contract import StoreContract, StoreFactory


class TestMemoryStoreContract(StoreContract):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        return MemoryStore


class TestSQLiteStoreContract(StoreContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> StoreFactory:
        numbers = itertools.count()
        return lambda: SQLiteStore(tmp_path / f"store-{next(numbers)}.db")


class TestInMemorySQLiteStoreContract(StoreContract):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        return lambda: SQLiteStore.from_url("sqlite://")


class _MemoryStoreWithTheDefaults(MemoryStore):
    """A store that keeps the `Store` ABC's default for every method that has one."""

    count_active_orchestrations = Store.count_active_orchestrations
    request_cancel = Store.request_cancel
    cancel_requested = Store.cancel_requested
    cancel_requests = Store.cancel_requests
    renew_leases = Store.renew_leases
    expire_leases_of = Store.expire_leases_of
    start = Store.start
    commit_step = Store.commit_step
    ping = Store.ping


class TestStoreDefaultsContract(StoreContract):
    atomic_start = False

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        return _MemoryStoreWithTheDefaults


async def test_the_default_count_pages_through_every_session_and_orchestration() -> None:
    store = _MemoryStoreWithTheDefaults()
    expected = 0
    for i in range(130):  # more than a page (100) of sessions; one session with more than a page of orchestrations
        session = await store.create_session(Session(user_id="alice"))
        thread = await store.create_thread(Thread(session_id=session.id, user_id="alice", original_prompt="p"))
        for j in range(120 if i == 7 else 2):
            status = ("pending", "running", "completed")[(i + j) % 3]
            expected += status != "completed"
            await store.create_orchestration(
                Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p", status=status)
            )
    assert (
        await store.count_active_orchestrations("alice")
        == expected
        == await MemoryStore.count_active_orchestrations(store, "alice")
    )
