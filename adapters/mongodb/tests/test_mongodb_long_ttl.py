"""Durations past what a datetime holds: a lease or counter `ttl_s` reaching past year 9999 (1e12 s, or `inf` for
a counter), which the other stores take, and `recover_after_s=inf` (never presume a commit abandoned). MongoStore
raised a raw `OverflowError` computing the expiry or cutoff; such a lease or counter now never expires. NaN, and
an infinite retry backoff, are refused when the store is made."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from orchestratex import Orchestrator, SimulatedProvider
from orchestratex_mongodb import MongoStore


async def test_a_run_with_a_lease_of_1e12_seconds_completes(mock_client_factory: Callable[[], Any]) -> None:
    store = MongoStore(client=mock_client_factory(), retry_backoff_s=0)
    orchestrator = Orchestrator(providers=[SimulatedProvider(seed=1, latency_scale=0)], store=store, lease_ttl_s=1e12)
    async with orchestrator:
        result = await orchestrator.run("Say hello", cost_limit=0.1)
        assert result.orchestration.status == "completed"
        other = await orchestrator.prepare("Say hello again", cost_limit=0.1)
        assert not await store.claim(other.id, "me", 1e12)  # the lease `prepare` gave the orchestrator: for good
    assert await store.claim(other.id, "me", 1e12)  # (given up as it closed)
    assert not await store.claim(other.id, "another process", 1.0)  # held for good
    assert await store.renew_leases([other.id], "me", 1e15) == {other.id}


async def test_counters_with_a_ttl_past_year_9999_never_expire(mock_client_factory: Callable[[], Any]) -> None:
    async with MongoStore(client=mock_client_factory(), retry_backoff_s=0) as store:
        assert [await store.incr("quota", 2, ttl_s=math.inf), await store.incr("quota", 1, ttl_s=math.inf)] == [2, 3]
        assert [await store.incr("window", 1, ttl_s=1e12), await store.incr("window", 1, ttl_s=1e12)] == [1, 2]


async def test_recover_after_s_may_be_infinite(mock_client_factory: Callable[[], Any]) -> None:
    # open() (which rolls forward commits older than recover_after_s) and every list_events raised OverflowError.
    store = MongoStore(client=mock_client_factory(), retry_backoff_s=0, recover_after_s=math.inf)
    orchestrator = Orchestrator(providers=[SimulatedProvider(seed=1, latency_scale=0)], store=store)
    async with orchestrator:
        result = await orchestrator.run("Say hello", cost_limit=0.1)
        events = await store.list_events(result.orchestration.session_id)
        assert events[-1].type == "orchestration_completed"


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ({"recover_after_s": math.nan}, "recover_after_s must be > 0"),
        ({"retry_backoff_s": math.nan}, "retry_backoff_s a finite number >= 0"),
        ({"retry_backoff_s": math.inf}, "retry_backoff_s a finite number >= 0"),  # (a retry would sleep forever)
    ],
)
def test_nan_and_an_infinite_backoff_are_refused(
    mock_client_factory: Callable[[], Any], option: dict[str, float], says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        MongoStore(client=mock_client_factory(), **option)  # type: ignore[arg-type]
