"""The shared Store contract, run against `MongoStore` on the mongomock stand-in (see conftest.py).

The stand-in behaves like a standalone server: this covers the journaled commit path and polling.
Transactions, change streams and write concerns are covered only by `test_mongodb_real_server.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from orchestratex.testing.store_contract import StoreContract, StoreFactory
from orchestratex_mongodb import MongoStore


class TestMongoStoreOnMongomockContract(StoreContract):
    @pytest.fixture
    def store_factory(self, mock_client_factory: Callable[[], Any]) -> StoreFactory:
        return lambda: MongoStore(client=mock_client_factory())
