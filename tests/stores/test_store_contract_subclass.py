"""The contract suite on stores users write the documented ways: a built-in store wrapped to count calls, and a
store that keeps `Store`'s composed `start`. Both run `Store.start`'s default (several writes), which the suite
must not hold to a one-transaction start."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from orchestratex.events import Event
from orchestratex.records import CallRecord, Orchestration
from orchestratex.stores import MemoryStore, Store
from orchestratex.testing.store_contract import StoreContract, StoreFactory, _composed_start


class CountingStore(MemoryStore):
    """What docs/stores.md says tests do: wrap `commit` to count calls (or inject faults)."""

    def __init__(self) -> None:
        super().__init__()
        self.commits = 0

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


class TestCountingStoreContract(StoreContract):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        return CountingStore


def test_which_starts_are_composed() -> None:
    assert _composed_start(CountingStore())
    assert not _composed_start(MemoryStore())
    assert Store.start is not MemoryStore.start
