"""A router's statistics written with the step's commit, not in round trips of their own.

The orchestrator attaches its router to a `RouterStore`: the orchestrator's store, except that while
a run `collect`s (a context variable, so only that run's task), `record_routing_outcome` keeps the
observation as a `RoutingOutcome`, which the run's next commit writes (`Store.commit_step(outcomes=...)`)
in the same round trip. Everywhere else — another router call, code outside a run — it writes through.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from ..stores import RoutingOutcome, Store

__all__ = ["RouterStore", "collect"]

_collected: ContextVar[list[RoutingOutcome] | None] = ContextVar("orchestratex_routing_outcomes", default=None)


@contextmanager
def collect() -> Iterator[list[RoutingOutcome]]:
    """Within the block, this task's routers' observations are kept in the list it yields, not written."""
    outcomes: list[RoutingOutcome] = []
    token = _collected.set(outcomes)
    try:
        yield outcomes
    finally:
        _collected.reset(token)


class RouterStore:
    """What a router is attached to: `store`'s methods, with `record_routing_outcome` collected in a run.

    Routers see it as their `Store` (they read `routing_stats` and write `record_routing_outcome`); any
    other attribute is the store's own.
    """

    __slots__ = ("store",)

    def __init__(self, store: Store) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def __repr__(self) -> str:
        return f"RouterStore({self.store!r})"

    async def record_routing_outcome(
        self,
        router: str,
        *,
        domain: str,
        model_name: str,
        score: float,
        cost: float,
        latency_ms: float,
        output_tokens: int,
    ) -> None:
        outcomes = _collected.get()
        if outcomes is None:
            await self.store.record_routing_outcome(
                router,
                domain=domain,
                model_name=model_name,
                score=score,
                cost=cost,
                latency_ms=latency_ms,
                output_tokens=output_tokens,
            )
        else:
            outcomes.append(RoutingOutcome(router, domain, model_name, score, cost, latency_ms, output_tokens))
