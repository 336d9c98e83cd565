"""A router of one's own whose `observe` fails with an error of its own (the learning service it posts feedback to is
unreachable: a `ConnectionError`, an `httpx` error) made `run` raise that error after the first judged answer: the
run ended there (`completed`, stop reason `error`, though iterations and the threshold were left), and its stored
evaluation had no `evaluation_completed` event. Learning is best effort: the run now goes on, with a warning."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import pytest

from orchestratex import (
    FunctionProvider,
    GenerationRequest,
    MemoryStore,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
    Router,
    RoutingDecision,
)
from orchestratex.routing import RoutingFeedback, Task

from ..helpers import NO_WAIT


class PostsFeedback(Router):
    """Routes by catalog quality; its `observe` posts each outcome to a service that is down."""

    name = "posts-feedback"

    def __init__(self) -> None:
        self.observed = 0

    async def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        fresh = [c for c in candidates if c.name not in task.failed_models] or list(candidates)
        best = max(fresh, key=lambda c: c.quality)
        return RoutingDecision(model_name=best.name, reasoning="best left", scores={}, domain=task.domain)

    async def observe(self, feedback: RoutingFeedback) -> None:
        self.observed += 1
        raise ConnectionError("feedback service unreachable")


def _profile(name: str, quality: float) -> ModelProfile:
    return ModelProfile(
        name=f"function:{name}",
        input_cost_per_1k=0.001,
        output_cost_per_1k=0.001,
        context_window=100_000,
        max_output_tokens=1000,
        quality=quality,
    )


def _answer(request: GenerationRequest) -> str:
    return json.dumps({"score": 5, "feedback": "more"}) if request.purpose == "judge" else "an answer"


async def test_a_router_whose_observe_fails_does_not_end_the_run(caplog: pytest.LogCaptureFixture) -> None:
    router = PostsFeedback()
    store = MemoryStore()
    async with Orchestrator(
        providers=[FunctionProvider(_answer)],
        catalog=ModelCatalog([_profile("a", 9.0), _profile("b", 8.0), _profile("c", 7.0)]),
        router=router,
        store=store,
        retry=NO_WAIT,
    ) as orchestrator:
        with caplog.at_level(logging.WARNING, logger="orchestratex.orchestrator"):
            result = await orchestrator.run("Name a prime", max_iterations=2, evaluation_threshold=9)
    doc = result.orchestration
    assert result.status == "completed" and doc.stop_reason == "max_iterations" and doc.error is None
    assert [it.score for it in doc.iterations] == [5.0, 5.0] and router.observed == 2
    events = [e.type for e in await store.list_events(doc.session_id)]
    assert events.count("evaluation_completed") == 2 and events[-1] == "orchestration_completed"
    warned = [r.getMessage() for r in caplog.records if "could not record" in r.getMessage()]
    assert warned == [
        "the router PostsFeedback could not record function:a's outcome (ConnectionError: feedback service "
        "unreachable); the run goes on",
        "the router PostsFeedback could not record function:b's outcome (ConnectionError: feedback service "
        "unreachable); the run goes on",
    ]
