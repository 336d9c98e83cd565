"""A judge of a panel whose call raises what is no verdict (a bug in a provider: a `KeyError`) ends the run once the
other judges' calls have ended: the other judge was left answering after the run had ended, its reservation released
while it answered and its cost counted nowhere (the run's and the session's totals left it out)."""

from __future__ import annotations

import asyncio
import json

import pytest

from orchestratex import (
    FunctionProvider,
    GenerationRequest,
    LLMJudgeEvaluator,
    MemoryStore,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
)


async def test_a_judge_s_bug_ends_the_run_once_the_panel_s_other_calls_are_counted() -> None:
    ended: list[str] = []

    async def answer(request: GenerationRequest) -> str:
        if request.purpose == "generate":
            return "Paris is the capital of France."
        if request.model.name == "function:j1":
            raise KeyError("choices")  # (a provider's bug: not a ProviderError)
        await asyncio.sleep(0.05)
        ended.append(request.model.name)
        return json.dumps({"score": 9.0, "feedback": "ok"})

    catalog = ModelCatalog(
        [
            ModelProfile(name="function:author", cost_per_1k_tokens=0.001, quality=9.0),
            ModelProfile(name="function:j1", cost_per_1k_tokens=0.001, quality=5.0),
            ModelProfile(name="function:j2", cost_per_1k_tokens=0.001, quality=5.0),
        ]
    )
    store = MemoryStore()
    orch = Orchestrator(
        providers=[FunctionProvider(answer)],
        catalog=catalog,
        store=store,
        evaluator=LLMJudgeEvaluator(panel_size=2),
        max_iterations=1,
    )
    session = await orch.create_session("u", cost_limit=1.0)
    for n in (1, 2):  # (a second run on the same orchestrator)
        ended.clear()
        with pytest.raises(KeyError):
            await orch.run("What is the capital of France?", session=session, preferred_models=["function:author"])
        assert ended == ["function:j2"]  # (its call ended before run() did)
        runs = await store.list_orchestrations(session_id=session.id)
        assert len(runs) == n
        doc = runs[-1]
        assert (doc.status, doc.stop_reason) == ("failed", "error") and (doc.error or "").startswith("KeyError")
        (it,) = doc.iterations
        assert doc.total_cost > it.cost  # (the answer, and the judge that answered)
        stored = await store.get_session(session.id)
        assert stored.reserved_cost == 0
        assert stored.total_cost == pytest.approx(sum(o.total_cost for o in runs))
    await orch.aclose()
