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
    assert result.orchestration.error == "no model's worst-case cost (with judging) fits the $0.0000001 left"
