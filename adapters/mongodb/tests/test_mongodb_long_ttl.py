"""A lease or counter `ttl_s` reaching past year 9999 (1e12 s, or `inf` for a counter): the other stores take it,
and MongoStore raised a raw `OverflowError` computing its expiry; it now never expires."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from orchestratex import Orchestrator, SimulatedProvider
from orchestratex_mongodb import MongoStore


async def test_a_run_with_a_lease_of_1e12_seconds_completes(mock_client_factory: Callable[[], Any]) -> None:
    store = MongoStore(client=mock_client_factory(), retry_backoff_s=0)
    orchestrator = Orchestrator(providers=[SimulatedProvider(seed=1, latency_scale=0)], store=store, lease_ttl_s=1e12)
    async with orchestrator:
        result = await orchestrator.run("Say hello", cost_limit=0.1)
        assert result.orchestration.status == "completed"
        other = await orchestrator.prepare("Say hello again", cost_limit=0.1)
        assert await store.claim(other.id, "me", 1e12)  # (prepare's lease was released)
        assert not await store.claim(other.id, "another process", 1.0)  # held for good
        assert await store.renew_leases([other.id], "me", 1e15) == {other.id}


async def test_counters_with_a_ttl_past_year_9999_never_expire(mock_client_factory: Callable[[], Any]) -> None:
    async with MongoStore(client=mock_client_factory(), retry_backoff_s=0) as store:
        assert [await store.incr("quota", 2, ttl_s=math.inf), await store.incr("quota", 1, ttl_s=math.inf)] == [2, 3]
        assert [await store.incr("window", 1, ttl_s=1e12), await store.incr("window", 1, ttl_s=1e12)] == [1, 2]
