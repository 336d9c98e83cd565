"""An orchestrator that was closed (`close`, a `with` block, `aclose`, an `async with` block) runs again: the store
it opened from a URL is opened again (as its providers open new connections), and its router is not fed the
stored statistics a second time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

from orchestratex import FunctionProvider, GenerationRequest, Orchestration, Orchestrator, SQLiteStore
from orchestratex.catalog import ModelProfile
from orchestratex.routing import LearningRouter, RoutingDecision, RoutingFeedback, Task
from orchestratex.routing.contextual import ContextualRouter
from orchestratex.stores import RoutingStat

from ..helpers import catalog


def answer(request: GenerationRequest) -> str:
    return json.dumps({"score": 9, "feedback": "fine"}) if request.purpose == "judge" else "an answer"


def orchestrator(tmp_path: Path, router: LearningRouter | None = None) -> Orchestrator:
    return Orchestrator(
        providers=[FunctionProvider(answer)],
        catalog=catalog("a", "b"),
        store=f"sqlite:///{tmp_path / 'runs.db'}",
        router=router,
    )


def test_close_then_run_sync_again(tmp_path: Path) -> None:
    orch = orchestrator(tmp_path)
    first = orch.run_sync("Hello", max_iterations=1)
    orch.close()
    again = orch.run_sync("Hello again", max_iterations=1)  # was: "SQLiteStore(...) is not open: await store.open()"
    assert again.status == "completed"
    orch.close()
    with orchestrator(tmp_path) as other:
        assert other.run_sync("Third", max_iterations=1).status == "completed"
    assert other.run_sync("After the with block", max_iterations=1).status == "completed"
    other.close()

    async def stored() -> list[Orchestration]:
        async with SQLiteStore(tmp_path / "runs.db") as store:
            return await store.list_orchestrations(limit=10)

    docs = asyncio.run(stored())
    assert {d.id for d in docs} >= {first.id, again.id} and len(docs) == 4


async def test_an_async_with_block_then_a_run_after_it(tmp_path: Path) -> None:
    router = ContextualRouter()
    async with orchestrator(tmp_path, router) as orch:
        await orch.run("Hello", max_iterations=1)
    result = await orch.run("After the block", max_iterations=1)
    assert result.status == "completed"
    async with orch:
        assert (await orch.run("In a second block", max_iterations=1)).status == "completed"
        stored = await orch.store.routing_stats(router.name)
    # the router holds what the store holds: three observations, not the first one counted twice
    assert sum(s.n for s in stored) == 3 == sum(s.n for s in router._models.values())


class Counting(LearningRouter):
    """A router of one's own: the first candidate; counts the outcomes it learned or restored."""

    name = "counting"

    def __init__(self, forgets: bool) -> None:
        self.forgets = forgets
        self.learned = 0

    async def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        return RoutingDecision(model_name=candidates[0].name, reasoning="the first", domain=task.domain)

    def update(self, feedback: RoutingFeedback) -> None:
        self.learned += 1

    def restore(self, stats: Sequence[RoutingStat]) -> None:
        self.learned += sum(s.n for s in stats)  # (added to what it holds, as the built-in routers add them)

    def forget(self) -> None:
        if self.forgets:
            self.learned = 0


async def test_a_router_of_ones_own_given_to_a_second_orchestrator_forgets_what_the_store_holds(
    tmp_path: Path,
) -> None:
    """`forget` is public: a `LearningRouter` of one's own given to a second orchestrator (a notebook cell run again)
    counted the store's statistics twice, as only the built-in routers (a private hook) dropped what they held."""
    for forgets, learned in ((True, 2), (False, 3)):  # (the default drops nothing: it is counted twice)
        router = Counting(forgets)
        for prompt in ("Hello", "Hello again"):
            async with orchestrator(tmp_path / str(forgets), router) as orch:  # (a new orchestrator each time)
                await orch.run(prompt, max_iterations=1)
        assert router.learned == learned
