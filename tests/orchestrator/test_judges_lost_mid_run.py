"""Every judge of an answer disabled in the live catalog (or removed) while the answer was written: the run ended
with "no judge available … a judge must be another model that is active, fits the budget and is not failing",
which named neither the judges nor what had happened to them. The error (in the iteration, the run and its
`orchestration_failed` event) now says what ruled out each judge since the model was picked."""

from __future__ import annotations

import json

import pytest

from orchestratex import (
    BayesianRouter,
    Event,
    FunctionProvider,
    GenerationRequest,
    MemoryStore,
    ModelProfile,
    Orchestrator,
)

from .. import helpers
from ..helpers import NO_WAIT


def _answer(request: GenerationRequest) -> str:
    return json.dumps({"score": 9, "feedback": "ok"}) if request.purpose == "judge" else "an answer"


@pytest.mark.parametrize(
    ("change", "judges", "said"),
    [
        ("disable", None, "the judges it had are disabled: function:b, function:c"),
        (
            "remove",
            ["function:b", "function:c"],
            "the judges it had are no longer in the catalog: function:b, function:c",
        ),
    ],
)
async def test_judges_lost_while_the_answer_was_written_are_named(
    change: str, judges: list[str] | None, said: str
) -> None:
    catalog = helpers.catalog("a", "b", "c", quality={"a": 9.0, "b": 8.0, "c": 7.0})
    catalog.add(ModelProfile(name="elsewhere:x", input_cost_per_1k=0.001, output_cost_per_1k=0.001))  # never a judge
    events: list[Event] = []

    def lose_the_judges(event: Event) -> None:
        if event.type == "response_generated":
            for name in ("function:b", "function:c"):
                catalog.set_status(name, "disabled") if change == "disable" else catalog.remove(name)

    async with Orchestrator(
        providers=[FunctionProvider(_answer)],
        catalog=catalog,
        router=BayesianRouter(explore=False),
        store=MemoryStore(),
        retry=NO_WAIT,
    ) as orchestrator:
        session = await orchestrator.create_session("alice", judges=judges)
        result = await orchestrator.run(
            "Name a prime", session=session, max_iterations=2, on_event=[lose_the_judges, events.append]
        )
    doc = result.orchestration
    assert result.status == "failed" and doc.stop_reason == "error"
    assert doc.iterations[0].model_name == "function:a"
    assert doc.error is not None and doc.error.endswith(f"(since function:a was picked, {said})"), doc.error
    assert doc.iterations[0].errors[-1] == f"evaluation: EvaluationError: {doc.error}"
    assert events[-1].type == "orchestration_failed" and events[-1].error == doc.error
