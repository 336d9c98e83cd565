"""An orchestrator that was closed (`close`, a `with` block, `aclose`, an `async with` block) runs again: the store
it opened from a URL is opened again (as its providers open new connections), and its router is not fed the
stored statistics a second time."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from orchestratex import FunctionProvider, GenerationRequest, Orchestration, Orchestrator, SQLiteStore
from orchestratex.routing.contextual import ContextualRouter

from ..helpers import catalog


def answer(request: GenerationRequest) -> str:
    return json.dumps({"score": 9, "feedback": "fine"}) if request.purpose == "judge" else "an answer"


def orchestrator(tmp_path: Path, router: ContextualRouter | None = None) -> Orchestrator:
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
