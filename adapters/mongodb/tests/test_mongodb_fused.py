"""`MongoStore`'s one-round-trip `start`, `commit_step`, `renew_leases` and `cancel_requests` give way to `Store`'s
composed defaults in a subclass that overrides one of their primitives, as the built-in stores' do (`fused`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from orchestratex import Orchestrator, SimulatedProvider
from orchestratex.events import Event
from orchestratex.records import Orchestration
from orchestratex_mongodb import MongoStore


class _Counting(MongoStore):
    """Wraps the writes of a run, as tests that count calls or inject faults do."""

    commits = creations = 0

    async def commit(
        self, orchestration: Orchestration, events: Sequence[Event] = (), **kwargs: Any
    ) -> Sequence[Event]:
        self.commits += 1
        return await super().commit(orchestration, events, **kwargs)

    async def create_orchestration(self, orchestration: Orchestration) -> Orchestration:
        self.creations += 1
        return await super().create_orchestration(orchestration)


class _Claims(MongoStore):
    claims = 0

    async def claim(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        self.claims += 1
        return await super().claim(orchestration_id, owner, ttl_s)


def test_which_fast_paths_a_class_composes_is_settled_by_what_it_overrides() -> None:
    assert MongoStore._composed == frozenset()  # its own primitives, from its mixins, are not overrides
    assert _Counting._composed == frozenset({"start", "commit_step"})  # (`create_orchestration` is start's too)
    assert _Claims._composed == frozenset({"start", "renew_leases"})


async def test_a_wrapped_commit_sees_every_commit_of_a_run(mock_client_factory: Callable[[], Any]) -> None:
    store = _Counting(client=mock_client_factory(), retry_backoff_s=0)
    provider = SimulatedProvider(seed=3, latency_scale=0)
    async with Orchestrator(providers=[provider], store=store, max_iterations=1) as orchestrator:
        result = await orchestrator.run("Explain the CAP theorem briefly", cost_limit=1.0)
        stored = await store.get_orchestration(result.id)
        events = await store.list_events(stored.session_id)
        session = await store.get_session(stored.session_id)
    assert store.creations == 1  # the start's insert went through the override (it did not before)
    assert store.commits >= 3  # the start's commit, each step's, and the final one
    assert events[0].type == "orchestration_started" and events[-1].type == "orchestration_completed"
    assert session.reserved_cost == 0.0 and session.total_cost == stored.total_cost


async def test_a_wrapped_claim_sees_the_renewals(mock_client_factory: Callable[[], Any]) -> None:
    async with _Claims(client=mock_client_factory(), retry_backoff_s=0) as store:
        # (closed: it gives up the lease its `prepare` held the run with)
        async with Orchestrator(providers=[SimulatedProvider(seed=3, latency_scale=0)], store=store) as orchestrator:
            o = await orchestrator.prepare("Explain the CAP theorem briefly", cost_limit=1.0)
        before = store.claims
        assert await store.renew_leases([o.id], "someone", 30) == {o.id}  # free: taken
        assert await store.renew_leases([o.id], "someone", 30) == {o.id}  # held: renewed, through `claim` too
        assert store.claims == before + 2
