"""Where a run's money went: what a call billed for nothing kept is on its iteration's `failed_cost`, so that the
iterations add up to the run's `total_cost` (a refusal's cost, the judges of an answer no verdict was kept for, were
in the total and on no iteration)."""

from __future__ import annotations

import asyncio
import json

from orchestratex import FunctionProvider, GenerationRequest, LLMJudgeEvaluator, MemoryStore, Orchestrator, Usage
from orchestratex.exceptions import ContentFiltered
from orchestratex.records import Orchestration
from orchestratex.routing import BayesianRouter
from orchestratex.stores.checks import to_pico

from ..helpers import NO_WAIT, catalog


def _parts(doc: Orchestration) -> int:
    return sum(
        to_pico(it.cost) + to_pico(it.failed_cost) + (to_pico(it.evaluation.cost) if it.evaluation else 0)
        for it in doc.iterations
    )


async def test_a_refusal_billed_with_its_usage_is_on_its_iteration() -> None:
    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": 9, "feedback": "fine"})
        if request.model.name == "function:a":
            raise ContentFiltered("refused", status_code=400, usage=Usage(input_tokens=1000, output_tokens=50))
        return "an answer"

    store = MemoryStore()
    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=catalog("a", "b", "c", quality={"a": 9.0, "b": 8.0, "c": 7.0}),
        router=BayesianRouter(explore=False),
        retry=NO_WAIT,
        store=store,
    )
    result = await orch.run("Hello", max_iterations=1)
    (it,) = result.orchestration.iterations
    assert result.status == "completed" and it.model_name != "function:a"
    assert it.errors == ["function:a: ContentFiltered: refused"]
    assert it.failed_cost == 0.00105  # 1,050 tokens at $0.001 per 1k
    assert _parts(result.orchestration) == to_pico(result.total_cost)
    stored = await store.get_orchestration(result.orchestration.id)
    assert stored.iterations[0].failed_cost == it.failed_cost
    await orch.aclose()


async def test_the_judges_of_a_run_cancelled_while_they_answered_are_on_its_iteration() -> None:
    """A panel of two: one judge answered (billed, counted), the other was still answering when the run was cancelled.
    The verdict that came is not kept (no evaluation): its cost is the iteration's `failed_cost`."""
    judged, judging = asyncio.Event(), asyncio.Event()

    async def fn(request: GenerationRequest) -> str:
        if request.purpose != "judge":
            return "an answer"
        if request.model.name == "function:c":
            await judged.wait()
            for _ in range(50):  # (the other judge's call is counted in these turns of the loop: nothing it awaits)
                await asyncio.sleep(0)
            judging.set()
            await asyncio.sleep(30)
        judged.set()
        return json.dumps({"score": 9, "feedback": "fine"})

    store = MemoryStore()
    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=catalog("a", "b", "c"),
        evaluator=LLMJudgeEvaluator(panel_size=2),
        retry=NO_WAIT,
        store=store,
    )
    run = await orch.prepare("Hello", max_iterations=1, preferred_models=["function:a"])
    task = orch.start(run)
    await judging.wait()
    await orch.cancel(run.id)
    assert task.done()
    stored = await store.get_orchestration(run.id)
    assert stored.status == "cancelled"
    (it,) = stored.iterations
    assert it.evaluation is None and it.failed_cost > 0
    assert _parts(stored) == to_pico(stored.total_cost)
    await orch.aclose()
