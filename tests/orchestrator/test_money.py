"""Costs add up: a provider billing above the reserved worst case is counted, recorded as overage and stops
the spending (issue #14, item 4); per-model analytics include every paid call (item 5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from orchestratex import FunctionProvider, Generation, GenerationRequest, MemoryStore, Orchestrator, SQLiteStore
from orchestratex.routing import BayesianRouter
from orchestratex.stores import Store
from orchestratex.usage import Usage, add_costs

from ..helpers import NO_WAIT, catalog
from ..ledger import ledger_problems

STORES: list[Callable[[], Store]] = [MemoryStore, SQLiteStore]


def make(store: Store, fn: Callable[[GenerationRequest], str | Generation]) -> Orchestrator:
    return Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=catalog("a", "b", "c", quality={"a": 9.0}),
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )


def overbilling(tokens: int, score: float = 9.0) -> Callable[[GenerationRequest], str | Generation]:
    """Model `a` reports `tokens` output tokens for its answers, whatever the request's cap."""

    def fn(request: GenerationRequest) -> str | Generation:
        if request.purpose == "judge":
            return f'{{"score": {score}, "feedback": "ok"}}'
        if request.model.name != "function:a":
            return "a fine answer"
        usage = Usage(input_tokens=10, output_tokens=tokens)
        return Generation(
            text="an answer", usage=usage, latency_ms=1.0, finish_reason="stop", model_name=request.model.name
        )

    return fn


@pytest.mark.parametrize("factory", STORES)
async def test_an_overage_past_the_limit_is_counted_recorded_and_stops_the_run(factory: Callable[[], Store]) -> None:
    store = factory()
    async with make(store, overbilling(100_000)) as orch:
        result = await orch.run("Hello", cost_limit=0.02, max_iterations=3, evaluation_threshold=9.5)
        [first, *_] = result.orchestration.iterations
        assert first.model_name == "function:a" and first.cost == pytest.approx(0.10001)
        # the whole bill is counted (the judges were reserved with the answer, within the limit); the
        # limit is exceeded by the overage, and only by it
        assert first.evaluation is not None
        assert result.total_cost == add_costs(first.cost, first.evaluation.cost)
        assert result.overage_cost == pytest.approx(0.10001 - 0.001097)
        assert add_costs(result.total_cost, -result.overage_cost) <= 0.02
        assert any("CostOverrun" in e and "function:a" in e for e in first.errors)
        assert result.stop_reason == "budget" and result.iterations == 1  # no call made past the limit
        analytics = await store.session_analytics(result.orchestration.session_id)
        assert analytics.overage_cost == result.overage_cost
        assert analytics.total_cost == result.total_cost
        assert await ledger_problems(store, result.orchestration.session_id) == []
        user = await store.user_analytics(result.orchestration.user_id)
        assert user.overage_cost == result.overage_cost


@pytest.mark.parametrize("factory", STORES)
async def test_a_model_that_overbilled_is_not_used_again_in_the_run(factory: Callable[[], Store]) -> None:
    store = factory()
    async with make(store, overbilling(1500, score=5.0)) as orch:
        result = await orch.run("Hello", cost_limit=1.0, max_iterations=3, evaluation_threshold=9.5)
        models = [it.model_name for it in result.orchestration.iterations]
        assert models[0] == "function:a" and "function:a" not in models[1:] and len(models) == 3
        assert result.overage_cost > 0 and result.total_cost <= 1.0
        assert await ledger_problems(store, result.orchestration.session_id) == []


@pytest.mark.parametrize("factory", STORES)
async def test_per_model_costs_include_the_answer_whose_evaluation_failed(factory: Callable[[], Store]) -> None:
    def fn(request: GenerationRequest) -> str:
        return "not a verdict" if request.purpose == "judge" else "an answer"

    store = factory()
    async with make(store, fn) as orch:
        result = await orch.run("Hello", max_iterations=3)
        assert result.status == "failed" and result.orchestration.iterations[0].phase == "failed"
        analytics = await store.session_analytics(result.orchestration.session_id)
        assert sum(m.generations for m in analytics.models) == 1
        assert add_costs(*(m.cost for m in analytics.models)) == result.total_cost > 0
        assert await ledger_problems(store, result.orchestration.session_id) == []


def misreporting(**generation: object) -> Callable[[GenerationRequest], str | Generation]:
    """Model `a` answers with `generation`'s usage or reported cost; the others answer normally."""

    def fn(request: GenerationRequest) -> str | Generation:
        if request.purpose == "judge":
            return '{"score": 9.0, "feedback": "ok"}'
        if request.model.name != "function:a":
            return "a fine answer"
        return Generation(text="an answer", latency_ms=1.0, finish_reason="stop", **generation)

    return fn


@pytest.mark.parametrize("factory", STORES)
@pytest.mark.parametrize(
    ("usage", "message"),
    [
        (Usage(input_tokens=10, output_tokens=-1000), "negative token count"),
        (Usage(input_tokens=10, output_tokens=10**12), "more than the $1,000,000 any one call may be counted"),
    ],
)
async def test_usage_that_cannot_be_priced_fails_the_call_not_the_ledger(
    factory: Callable[[], Store], usage: Usage, message: str
) -> None:
    # counted, it made the step's commit fail with a UserError: the run raised it and stayed `running` with its
    # reservation held, for a later resume to repeat the paid call
    store = factory()
    async with make(store, misreporting(usage=usage)) as orch:
        result = await orch.run("Hello", cost_limit=1.0, max_iterations=1)
        [first] = result.orchestration.iterations
        assert any(e.startswith("function:a: MalformedResponse") and message in e for e in first.errors)
        assert first.model_name != "function:a" and result.status == "completed"  # the next model answered
        analytics = await store.session_analytics(result.orchestration.session_id)
        [a] = [m for m in analytics.models if m.model_name == "function:a"]
        assert a.errors == 1 and a.cost == 0
        session = await store.get_session(result.orchestration.session_id)
        assert session.reserved_cost == 0 and session.total_cost == result.total_cost > 0
        assert await ledger_problems(store, result.orchestration.session_id) == []


@pytest.mark.parametrize("factory", STORES)
async def test_a_reported_cost_above_the_largest_amount_is_ignored_for_the_catalog_price(
    factory: Callable[[], Store],
) -> None:
    store = factory()
    usage = Usage(input_tokens=10, output_tokens=5)
    async with make(store, misreporting(usage=usage, reported_cost=5e6)) as orch:
        result = await orch.run("Hello", cost_limit=1.0, max_iterations=1)
        [first] = result.orchestration.iterations
        assert first.model_name == "function:a" and first.cost == pytest.approx(15 * 0.001 / 1000)
        assert result.status == "completed"
        assert await ledger_problems(store, result.orchestration.session_id) == []


@pytest.mark.parametrize("factory", STORES)
async def test_cached_or_reasoning_tokens_reported_apart_are_priced_not_free(factory: Callable[[], Store]) -> None:
    # an adapter of one's own reporting cache reads apart from the input tokens, as Anthropic's API does
    # (`input_tokens=10, cached_input_tokens=100`): the 10 uncached tokens were billed at $0 (input taken as including
    # the cached ones), and reasoning tokens reported apart from the output tokens were not billed at all
    from orchestratex import ModelCatalog, ModelProfile

    prices: dict[str, Any] = {"input_cost_per_1k": 0.3, "output_cost_per_1k": 1.5, "cached_input_cost_per_1k": 0.03}
    models = ModelCatalog(
        [ModelProfile(name="function:a", quality=9.0, **prices), ModelProfile(name="function:b", **prices)]
    )
    usage = Usage(input_tokens=10, cached_input_tokens=100, output_tokens=20, reasoning_tokens=50)
    store = factory()
    orchestrator = Orchestrator(
        providers=[FunctionProvider(misreporting(usage=usage))],
        catalog=models,
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    async with orchestrator:
        result = await orchestrator.run("Hello", cost_limit=5.0, max_iterations=1, max_output_tokens=100)
    assert result.status == "completed", result.error
    [first] = result.orchestration.iterations
    assert first.model_name == "function:a", first.errors
    expected = add_costs(10 * 0.3 / 1000, 100 * 0.03 / 1000, (20 + 50) * 1.5 / 1000)
    assert first.cost == pytest.approx(expected)
    assert first.usage == Usage(input_tokens=110, cached_input_tokens=100, output_tokens=70, reasoning_tokens=50)
    assert result.total_cost >= first.cost
    assert await ledger_problems(store, result.orchestration.session_id) == []


@pytest.mark.parametrize("factory", STORES)
async def test_a_filtered_answer_with_cached_tokens_reported_apart_is_billed_as_an_answer(
    factory: Callable[[], Store],
) -> None:
    # a refusal billed with usage whose cache reads were reported apart from the input tokens (as Anthropic's API
    # reports them) was priced as 100 cached tokens and the 10 others at $0, and its reasoning tokens not at all; an
    # answer with that usage is priced in full
    from orchestratex import ModelCatalog, ModelProfile
    from orchestratex.exceptions import ContentFiltered

    prices: dict[str, Any] = {"input_cost_per_1k": 0.3, "output_cost_per_1k": 1.5, "cached_input_cost_per_1k": 0.03}
    models = ModelCatalog(
        [ModelProfile(name="function:a", quality=9.0, **prices), ModelProfile(name="function:b", **prices)]
    )
    usage = Usage(input_tokens=10, cached_input_tokens=100, output_tokens=20, reasoning_tokens=50)

    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9.0, "feedback": "ok"}'
        if request.model.name == "function:a":
            raise ContentFiltered("the answer was withheld", status_code=400, usage=usage)
        return "a fine answer"

    store = factory()
    orchestrator = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=models,
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    async with orchestrator:
        result = await orchestrator.run("Hello", cost_limit=5.0, max_iterations=1, max_output_tokens=100)
    assert result.status == "completed", result.error
    [first] = result.orchestration.iterations
    assert first.model_name == "function:b" and first.errors[0].startswith("function:a: ContentFiltered")
    assert first.evaluation is not None
    filtered = add_costs(result.total_cost, -first.cost, -first.evaluation.cost)
    assert filtered == add_costs(10 * 0.3 / 1000, 100 * 0.03 / 1000, (20 + 50) * 1.5 / 1000)
    analytics = await store.session_analytics(result.orchestration.session_id)
    [a] = [m for m in analytics.models if m.model_name == "function:a"]
    assert a.errors == 1 and a.cost == add_costs(filtered, first.evaluation.cost)  # (it judged b's answer)
    assert await ledger_problems(store, result.orchestration.session_id) == []
