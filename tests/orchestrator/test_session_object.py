"""A `Session` object given to `run` after earlier runs of it spent: its `total_cost` is the one it was read with."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestratex import BayesianRouter, Orchestrator, RunResult
from orchestratex.stores import SQLiteStore

PROMPTS = ("Explain TCP slow start", "Write a limerick about caching", "Prove that sqrt(2) is irrational")


def routed(results: list[RunResult]) -> list[tuple[str | None, list[tuple[str, str, list[str]]]]]:
    return [
        (r.stop_reason, [(it.model_name, it.phase, it.errors) for it in r.orchestration.iterations]) for r in results
    ]


async def sequential_runs(store_path: Path, by_id: bool) -> tuple[list[RunResult], float]:
    """The three prompts run one after the other in one $0.0015 session, given as the object `create_session`
    returned (stale once the first run has spent) or by id."""
    orchestrator = Orchestrator(evaluation_threshold=9.5, router=BayesianRouter(seed=0), store=SQLiteStore(store_path))
    async with orchestrator:
        session = await orchestrator.create_session("demo-user", cost_limit=0.0015)
        results = [await orchestrator.run(p, session=session.id if by_id else session) for p in PROMPTS]
        spent = (await orchestrator.store.get_session(session.id)).total_cost
    return results, spent


async def test_a_stale_session_object_routes_as_its_id_does(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # the third run priced its first decision with the object's $0 spent: it picked a model the session could no
    # longer afford, stored its `model_selected` event, and recorded "BudgetExceeded: sim:gemini-2.5-flash no longer
    # fits the budget or its answer could not be judged" before stopping `budget`
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    by_object, spent = await sequential_runs(tmp_path / "object.db", by_id=False)
    by_id, spent_by_id = await sequential_runs(tmp_path / "id.db", by_id=True)
    refused = [e for r in by_object for it in r.orchestration.iterations for e in it.errors if "BudgetExceeded" in e]
    assert refused == []
    assert by_object[-1].stop_reason == "budget"
    assert by_object[-1].orchestration.iterations == []  # no model was selected that it could not pay for
    assert "fits the $" in (by_object[-1].error or "")
    assert routed(by_object) == routed(by_id)
    assert spent == pytest.approx(spent_by_id) and spent <= 0.0015
