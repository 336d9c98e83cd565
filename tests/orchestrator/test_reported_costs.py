"""A cost the provider reports is what the run counts; the catalog price is recorded beside it."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from orchestratex import FunctionProvider, Generation, GenerationRequest, MemoryStore, Orchestrator, Usage
from orchestratex.events import Event
from orchestratex.records import CallRecord, Orchestration
from orchestratex.routing import BayesianRouter

from ..helpers import NO_WAIT, catalog

USAGE = Usage(input_tokens=100, output_tokens=50)


class RecordingStore(MemoryStore):
    """Keeps the call records each commit hands over."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[CallRecord] = []

    async def commit(
        self,
        orchestration: Orchestration,
        events: Sequence[Event] = (),
        *,
        calls: Sequence[CallRecord] = (),
        spent: float = 0.0,
        released: float = 0.0,
        owner: str | None = None,
    ) -> Sequence[Event]:
        self.calls.extend(calls)
        return await super().commit(orchestration, events, calls=calls, spent=spent, released=released, owner=owner)


def reporting(generation_cost: float | None, judge_cost: float | None) -> FunctionProvider:
    """Answers every call with `USAGE`; generations and judges report the given costs (None: nothing reported)."""

    def fn(request: GenerationRequest) -> Generation:
        if request.purpose == "judge":
            text, cost = json.dumps({"score": 9, "feedback": "fine"}), judge_cost
        else:
            text, cost = "an answer", generation_cost
        return Generation(text=text, usage=USAGE, reported_cost=cost)

    return FunctionProvider(fn)


async def test_reported_cost_is_counted_and_both_are_recorded() -> None:
    store = RecordingStore()
    orch = Orchestrator(
        providers=[reporting(0.0004, 0.00002)],
        catalog=catalog("a", "b"),
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    result = await orch.run("Say hello", max_iterations=1, evaluation_threshold=5)
    it = result.orchestration.iterations[0]
    at_catalog = orch.catalog.get(it.model_name).cost(USAGE)
    assert at_catalog == pytest.approx(0.00015)
    assert (it.cost, it.reported_cost, it.catalog_cost) == (0.0004, 0.0004, at_catalog)
    assert it.evaluation is not None
    verdict = it.evaluation.verdicts[0]
    assert (verdict.cost, verdict.reported_cost, verdict.catalog_cost) == (0.00002, 0.00002, at_catalog)
    assert result.total_cost == pytest.approx(0.00042)
    assert result.to_dict()["iterations_detail"][0]["reported_cost"] == 0.0004
    events = {e.type: e for e in result.events}
    assert events["response_generated"].cost == 0.0004  # type: ignore[union-attr]
    session = await store.get_session(result.orchestration.session_id)
    assert session.total_cost == pytest.approx(0.00042)  # the budget is charged what was reported
    analytics = await store.session_analytics(session.id)
    assert analytics.total_cost == pytest.approx(0.00042)
    assert sum(m.cost for m in analytics.models) == pytest.approx(0.00042)
    calls = sorted(store.calls, key=lambda c: c.role)  # the records keep both figures
    assert [(c.role, c.cost, c.reported_cost, c.catalog_cost) for c in calls] == [
        ("generate", 0.0004, 0.0004, at_catalog),
        ("judge", 0.00002, 0.00002, at_catalog),
    ]


async def test_catalog_price_when_nothing_is_reported() -> None:
    orch = Orchestrator(providers=[reporting(None, None)], catalog=catalog("a", "b"), retry=NO_WAIT)
    result = await orch.run("Say hello", max_iterations=1, evaluation_threshold=5)
    it = result.orchestration.iterations[0]
    assert it.reported_cost is None
    assert it.cost == it.catalog_cost == pytest.approx(0.00015)
    assert result.total_cost == pytest.approx(0.0003)


async def test_function_provider_passes_a_reported_cost_through() -> None:
    provider = reporting(0.5, None)
    request = GenerationRequest(model=catalog("a").get("function:a"), messages=[])
    generation = await provider.generate(request)
    assert generation.reported_cost == 0.5


async def test_a_reported_cost_finer_than_a_pico_dollar_is_counted_as_every_total_adds_it() -> None:
    # OpenRouter reports costs such as 1.23456789012345e-05: the iteration, its event, the call records and
    # the totals all say the amount counted, to the pico-dollar (the reported figure is kept as reported)
    store = RecordingStore()
    orch = Orchestrator(
        providers=[reporting(1.23456789012345e-05, 4e-13)],
        catalog=catalog("a", "b"),
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    result = await orch.run("Say hello", max_iterations=1, evaluation_threshold=5)
    it = result.orchestration.iterations[0]
    assert it.evaluation is not None
    assert (it.cost, it.reported_cost) == (1.2345679e-05, 1.23456789012345e-05)
    assert (it.evaluation.cost, it.evaluation.verdicts[0].cost, it.evaluation.verdicts[0].reported_cost) == (
        0.0,
        0.0,
        4e-13,
    )
    events = {e.type: e for e in result.events}
    assert events["response_generated"].cost == it.cost  # type: ignore[union-attr]
    assert result.total_cost == it.cost + it.evaluation.cost
    assert sorted(c.cost for c in store.calls) == [0.0, it.cost]
    analytics = await store.session_analytics(result.orchestration.session_id)
    assert sum(m.cost for m in analytics.models) == analytics.total_cost == result.total_cost
