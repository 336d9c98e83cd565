"""A route's reasoning names the estimated cost of its call to three significant digits: a cheap model's read
`at ~$0.0000` (the default router rounded to four decimals, the others to five)."""

from __future__ import annotations

import re

import pytest

from orchestratex import FunctionProvider, GenerationRequest, Orchestrator
from orchestratex._dollars import estimate
from orchestratex.routing import BayesianRouter
from orchestratex.routing.contextual import ContextualRouter

from ..helpers import NO_WAIT, catalog


@pytest.mark.parametrize(
    ("amount", "shown"),
    [(0.000152, "0.000152"), (0.0053, "0.00530"), (1.25, "1.2500"), (4e-8, "0.0000000400"), (0.0, "0.0000")],
)
def test_an_estimate_keeps_three_significant_digits(amount: float, shown: str) -> None:
    assert estimate(amount) == shown
    assert float(shown) == pytest.approx(amount, rel=0.005)


@pytest.mark.parametrize("router", [BayesianRouter, ContextualRouter])
async def test_a_cheap_models_estimate_is_not_read_as_nothing(router: type[BayesianRouter | ContextualRouter]) -> None:
    def fn(request: GenerationRequest) -> str:
        return '{"score": 9, "feedback": "fine"}' if request.purpose == "judge" else "an answer"

    orchestrator = Orchestrator(
        providers=[FunctionProvider(fn)], catalog=catalog("a", "b", price=1e-7), router=router(), retry=NO_WAIT
    )
    async with orchestrator:
        result = await orchestrator.run("Hello", max_iterations=1)
    reasoning = result.orchestration.iterations[0].reasoning
    said = re.search(r"~\$([0-9.]+[0-9])", reasoning)
    assert said is not None, reasoning
    assert float(said.group(1)) > 0, reasoning
