"""The shared Store contract, run against both built-in stores."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from orchestratex.stores import MemoryStore, SQLiteStore
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
