"""An answer paid for but that no judge can take (too long for every judge's window, or a judge price raised
while it was written) is in the session's call records as in its total: the ledger identity holds."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from orchestratex import (
    FunctionProvider,
    Generation,
    GenerationRequest,
    MemoryStore,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
    SQLiteStore,
)
from orchestratex.routing import BayesianRouter
from orchestratex.stores import Store
from orchestratex.usage import Usage

from ..helpers import NO_WAIT, catalog
from ..ledger import ledger_problems

STORES: list[Callable[[], Store]] = [MemoryStore, SQLiteStore]


def _answer(request: GenerationRequest, text: str) -> Generation:
    usage = Usage(input_tokens=20, output_tokens=100)
    return Generation(text=text, usage=usage, latency_ms=1.0, finish_reason="stop", model_name=request.model.name)


@pytest.mark.parametrize("factory", STORES)
async def test_an_answer_too_long_for_every_judge_is_recorded(factory: Callable[[], Store]) -> None:
    models = ModelCatalog(
        ModelProfile(
            name=f"function:{n}",
            input_cost_per_1k=0.001,
            output_cost_per_1k=0.001,
            context_window=4000,
            max_output_tokens=500,
            quality=9.0 if n == "a" else 7.0,
        )
        for n in ("a", "b")
    )

    def fn(request: GenerationRequest) -> str | Generation:
        if request.purpose == "judge":
            return json.dumps({"score": 9.5, "feedback": "ok"})
        return _answer(request, "word " * 20_000)  # far past its cap, and past any judge's window

    store = factory()
    router = BayesianRouter(explore=False)
    async with Orchestrator(
        providers=[FunctionProvider(fn)], catalog=models, store=store, retry=NO_WAIT, router=router
    ) as orch:
        result = await orch.run("Hello", max_iterations=2)
        assert result.stop_reason == "error" and "context window" in (result.orchestration.error or "")
        assert result.total_cost == pytest.approx(0.00012)
        analytics = await store.session_analytics(result.orchestration.session_id)
        assert [(m.model_name, m.calls, m.cost) for m in analytics.models] == [("function:a", 1, result.total_cost)]
        assert await ledger_problems(store, result.orchestration.session_id) == []


@pytest.mark.parametrize("factory", STORES)
async def test_an_answer_left_unjudged_by_a_judge_price_raised_meanwhile_is_recorded(
    factory: Callable[[], Store],
) -> None:
    models = catalog("a", "b", "c", quality={"a": 9.0})

    def fn(request: GenerationRequest) -> str | Generation:
        if request.purpose == "judge":
            return json.dumps({"score": 9.5, "feedback": "ok"})
        for judge in ("function:b", "function:c"):  # while function:a answers, its judges become 20x dearer
            models.update(judge, input_cost_per_1k=0.02, output_cost_per_1k=0.02)
        return _answer(request, "an answer")

    store = factory()
    router = BayesianRouter(explore=False)
    async with Orchestrator(
        providers=[FunctionProvider(fn)], catalog=models, store=store, retry=NO_WAIT, router=router
    ) as orch:
        result = await orch.run("Hello", cost_limit=0.01, max_iterations=2)
        assert result.stop_reason == "budget" and "no judge's worst case fits" in (result.orchestration.error or "")
        analytics = await store.session_analytics(result.orchestration.session_id)
        assert [(m.model_name, m.cost) for m in analytics.models] == [("function:a", result.total_cost)]
        assert result.total_cost == pytest.approx(0.00012)
        assert await ledger_problems(store, result.orchestration.session_id) == []
