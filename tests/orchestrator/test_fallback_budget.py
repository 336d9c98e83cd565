"""A fallback's decision after a call that failed: what the failed call held and did not spend is free for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestratex import (
    BayesianRouter,
    FunctionProvider,
    Generation,
    GenerationRequest,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
    SQLiteStore,
    Usage,
)
from orchestratex.exceptions import ContentFiltered, ProviderHTTPError

from ..helpers import NO_WAIT


def catalog() -> ModelCatalog:
    """Two models at one price (`a` the router's first pick) and a cheap judge."""
    return ModelCatalog(
        [
            *(
                ModelProfile(
                    name=f"function:{name}",
                    input_cost_per_1k=0.01,
                    output_cost_per_1k=0.01,
                    quality=quality,
                    max_output_tokens=500,
                    context_window=10_000,
                )
                for name, quality in (("a", 9.0), ("b", 7.0))
            ),
            ModelProfile(
                name="function:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=8, judge_only=True
            ),
        ]
    )


def provider(failure: Exception) -> FunctionProvider:
    """`function:a` fails with `failure`; `function:b` answers; the judge gives 9."""

    def fn(request: GenerationRequest) -> Generation:
        if request.purpose == "judge":
            return Generation(
                text=json.dumps({"score": 9, "feedback": "fine"}), usage=Usage(input_tokens=50, output_tokens=10)
            )
        if request.model.name == "function:a":
            raise failure
        return Generation(text="An answer.", usage=Usage(input_tokens=10, output_tokens=5))

    return FunctionProvider(fn, count_tokens=lambda request: 20)


@pytest.mark.parametrize("where", ["run", "session"])
@pytest.mark.parametrize(
    "failure",
    [
        ProviderHTTPError("server error", status_code=500),
        ContentFiltered("refused", status_code=400, usage=Usage(input_tokens=20, output_tokens=40)),  # billed
    ],
    ids=["unbilled", "billed"],
)
async def test_a_model_failing_leaves_its_reservation_to_the_fallback(
    tmp_path: Path, where: str, failure: Exception
) -> None:
    # a $0.0065 budget holds one answer of up to 500 tokens and its judging: the first model failed (nothing spent, or
    # $0.0006 billed), and the fallback was priced as if the failed call still held its $0.005 worst case and judging:
    # the run stopped `budget`, "no model's worst-case cost (with judging) fits the $0.001247 left"
    orchestrator = Orchestrator(
        providers=[provider(failure)],
        catalog=catalog(),
        store=SQLiteStore(tmp_path / "runs.db"),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    async with orchestrator:
        if where == "run":
            result = await orchestrator.run("Hello", max_iterations=1, cost_limit=0.0065, max_output_tokens=500)
        else:
            session = await orchestrator.create_session("alice", cost_limit=0.0065)
            result = await orchestrator.run("Hello", session=session, max_iterations=1, max_output_tokens=500)
        stored = await orchestrator.store.get_session(result.orchestration.session_id)
    assert result.status == "completed", result.error
    (it,) = result.orchestration.iterations
    assert it.model_name == "function:b"
    assert it.errors[0].startswith(f"function:a: {type(failure).__name__}: ")
    assert result.total_cost <= 0.0065
    assert stored.reserved_cost == 0 and stored.total_cost == pytest.approx(result.total_cost)
