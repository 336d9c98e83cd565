"""Scores as `orchestratex runs list` and `runs show` print them: an answer judged 8.96 under a threshold of 9 read
"9.0/10" (one decimal, rounded), as if it had reached the threshold the run stopped short of. A real process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from orchestratex import FunctionProvider, Orchestrator
from orchestratex.cli._scores import score_text
from orchestratex.providers import GenerationRequest
from orchestratex.stores import SQLiteStore

from ..helpers import catalog
from .conftest import run_cli


def _answer(request: GenerationRequest) -> str:
    if request.purpose == "judge":
        return json.dumps({"score": 8.96, "feedback": "almost"})
    return "def sort(xs): return sorted(xs)"


async def _stored(path: Path) -> str:
    async with (
        SQLiteStore(path) as store,
        Orchestrator(providers=[FunctionProvider(_answer)], catalog=catalog("a", "b"), store=store) as orchestrator,
    ):
        result = await orchestrator.run("Write a sort function", evaluation_threshold=9, max_iterations=1)
    assert result.final_score == 8.96 and result.stop_reason == "max_iterations"
    return result.id


def test_a_score_just_under_the_threshold_is_not_shown_reaching_it(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    oid = asyncio.run(_stored(path))
    shown = run_cli("runs", "show", oid, "--store", f"sqlite:///{path}")
    assert shown.returncode == 0, shown.stderr
    assert "8.96/10" in shown.stdout and "9.0/10" not in shown.stdout, shown.stdout
    listed = run_cli("runs", "list", "--store", f"sqlite:///{path}")
    assert listed.returncode == 0, listed.stderr
    assert "8.96" in listed.stdout and "9.0" not in listed.stdout, listed.stdout


def test_scores_are_cut_to_two_decimals_never_rounded_up() -> None:
    assert [score_text(s) for s in (8.96, 9.0, 7.5, 8.999, 0.0, 10.0, 6.125)] == [
        "8.96",
        "9.0",
        "7.5",
        "8.99",
        "0.0",
        "10.0",
        "6.12",
    ]
