"""Amounts in a run's budget messages keep their significant digits: a budget of a tenth of a micro-dollar is not
"$0.000000 left"."""

from __future__ import annotations

import pytest

from orchestratex import Orchestrator


def test_a_tiny_budget_is_named_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    orch = Orchestrator(simulate=True)
    result = orch.run_sync("Hello", cost_limit=0.0000001)
    orch.close()
    assert (result.status, result.stop_reason) == ("failed", "budget")
    assert (result.orchestration.error or "").startswith(
        "no model's worst-case cost (with judging) fits the $0.0000001 left: the least a call needs is $"
    )


async def test_a_budget_no_call_fits_says_how_much_the_least_call_needs() -> None:
    """A run refused for its budget said only what was left ("fits the $0.002000 left"), not what would do: a user
    raised the limit by guesses. It now names the least a call needs (rounded up), and that much lets the call
    through."""
    import json

    from orchestratex import FunctionProvider, GenerationRequest

    from ..helpers import NO_WAIT, catalog

    asked: list[str] = []

    def answer(request: GenerationRequest) -> str:
        asked.append(request.purpose)
        return json.dumps({"score": 9, "feedback": "fine"}) if request.purpose == "judge" else "4"

    orch = Orchestrator(
        providers=[FunctionProvider(answer)], catalog=catalog("a", "b"), retry=NO_WAIT, max_output_tokens=300
    )
    refused = await orch.run("What is 2+2?", max_iterations=1, cost_limit=0.002)
    assert (refused.status, refused.stop_reason, asked) == ("failed", "budget", [])
    error = refused.orchestration.error or ""
    assert error.startswith(
        "no model's worst-case cost (with judging) fits the $0.002000 left: the least a call needs is $"
    )
    assert error.endswith("'s answer of up to 256 tokens and its judging)")
    needed = float(error.split("needs is $")[1].split(" ")[0])
    assert 0.002 < needed < 0.01
    result = await orch.run("What is 2+2?", max_iterations=1, cost_limit=needed)
    assert (result.status, asked) == ("completed", ["generate", "judge"]), result.error
    assert result.total_cost <= needed
    await orch.aclose()
