"""`RunResult` in a terminal and a notebook: a one-line repr, an HTML summary, a rich panel."""

from __future__ import annotations

import io

from rich.console import Console

from orchestratex import BayesianRouter, Orchestrator

from .helpers import NO_WAIT, answer_attempt, catalog, score_of_answer, scripted


async def test_short_repr_html_and_rich() -> None:
    def long_answer(request: object) -> str:
        return answer_attempt(request) + " <b>" + "x" * 200  # type: ignore[arg-type]

    orch = Orchestrator(
        providers=[scripted(long_answer, score_of_answer({1: 9.0}))],
        catalog=catalog("a", "b"),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    result = await orch.run("Hello")
    text = repr(result)
    assert "\n" not in text and len(text) < 400
    assert text.startswith(f"RunResult(id={result.id!r}, status='completed'")
    assert "final_score=9" in text and "total_cost=$" in text and "..." in text
    html = result._repr_html_()
    assert "<table>" in html and "completed (threshold)" in html and "&lt;b&gt;" in html and "<b>x" not in html
    out = io.StringIO()
    Console(file=out, width=100).print(result)
    rendered = out.getvalue()
    assert f"RunResult {result.id}" in rendered and "9 / 10" in rendered and "attempt 1" in rendered
