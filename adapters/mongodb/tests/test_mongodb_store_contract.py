"""The shared Store contract, run against `MongoStore` on the mongomock stand-in (see conftest.py).

The stand-in behaves like a standalone server: this covers the journaled commit path and polling.
Transactions, change streams and write concerns are covered only by `test_mongodb_real_server.py`
(the second class below runs the transaction path's code, without any transactional guarantee).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from orchestratex.testing.store_contract import StoreContract, StoreFactory
from orchestratex_mongodb import MongoStore


class TestMongoStoreOnMongomockContract(StoreContract):
    atomic_start = False  # (MongoStore.start is several writes)

    @pytest.fixture
    def store_factory(self, mock_client_factory: Callable[[], Any]) -> StoreFactory:
        return lambda: MongoStore(client=mock_client_factory())


class TestMongoStoreTransactionPathPlumbingContract(StoreContract):
    """The transaction path's code, on a stand-in whose `with_transaction` just runs the callback.

    This catches mistakes in that code (seq arithmetic without a journal, unguarded writes, reservation
    clean-up) but proves nothing about transactions themselves: no isolation, no rollback. Their
    atomicity is tested only against a real replica set (`test_mongodb_real_server.py`).
    """

    atomic_start = False

    @pytest.fixture
    def store_factory(self, mock_client_factory: Callable[..., Any]) -> StoreFactory:
        return lambda: MongoStore(client=mock_client_factory(fake_sessions=True), transactions=True)
