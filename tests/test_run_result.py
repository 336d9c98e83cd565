"""`RunResult` in a terminal and a notebook: a one-line repr, an HTML summary, a rich panel."""

from __future__ import annotations

import io
import re
from html import escape
from pathlib import Path

from rich.console import Console

from orchestratex import BayesianRouter, GenerationRequest, Orchestrator
from orchestratex.exceptions import ProviderServerError

from .helpers import NO_WAIT, answer_attempt, catalog, mypy_strict, score_of_answer, scripted


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


async def test_the_repr_of_a_failed_run_says_why_and_a_tiny_cost_is_not_shown_as_zero() -> None:
    def fail(request: GenerationRequest) -> str:
        raise ProviderServerError("the model is down", provider="function", status_code=503)

    failing = Orchestrator(providers=[scripted(fail, lambda _: 9.0)], catalog=catalog("a", "b"), retry=NO_WAIT)
    failed = await failing.run("Hello", max_iterations=1)
    assert failed.status == "failed" and failed.error and failed.error == failed.orchestration.error
    text = repr(failed)
    assert "\n" not in text and text.endswith(f", error={failed.orchestration.error[:57] + '...'!r})")

    cheap = Orchestrator(
        providers=[scripted(answer_attempt, lambda _: 9.0)], catalog=catalog("a", "b", price=1e-6), retry=NO_WAIT
    )
    result = await cheap.run("Hi", max_iterations=1)
    assert 0 < result.total_cost < 5e-7
    shown = re.findall(r"total_cost=\$(\d+\.\d+),", repr(result))  # (it was total_cost=$0.000000)
    assert shown and 0 < float(shown[0]) and abs(float(shown[0]) - result.total_cost) < 1e-7
    assert f"${shown[0]}" in result._repr_html_() and ", error=" not in repr(result) and result.error is None


def test_status_and_stop_reason_are_typed_as_the_orchestrations_so_a_misspelt_one_is_caught(tmp_path: Path) -> None:
    """`RunResult.status` was typed `str` and `stop_reason` `str | None` (the orchestration's are `Literal`s), so
    `mypy --strict` passed `if result.status == "complete":`, a test that is never true."""
    program = tmp_path / "user_code.py"
    program.write_text(
        "from typing import assert_type\n"
        "from orchestratex import Orchestrator\n"
        "from orchestratex.records import OrchestrationStatus, StopReason\n"
        "result = Orchestrator().run_sync('Hello')\n"
        "assert_type(result.status, OrchestrationStatus)\n"
        "assert_type(result.stop_reason, StopReason | None)\n"
        "if result.status == 'complete':\n"
        "    print('never')\n"
        "if Orchestrator().model_status('gpt4') == 'open':  # (it says 'circuit_open')\n"
        "    print('never either')\n",
        encoding="utf-8",
    )
    out, err, status = mypy_strict(program, cache_dir=tmp_path / ".mypy_cache")
    assert status == 1, out + err
    assert out.splitlines()[:-1] == [
        f"{program}:7: error: Non-overlapping equality check (left operand type: \"Literal['pending', 'running', "
        "'completed', 'failed', 'cancelled']\", right operand type: \"Literal['complete']\")  [comparison-overlap]",
        # `Orchestrator.model_status` was typed `str` too
        f"{program}:9: error: Non-overlapping equality check (left operand type: \"Literal['active', 'deprecated', "
        "'disabled', 'circuit_open', 'circuit_half_open']\", right operand type: \"Literal['open']\")  "
        "[comparison-overlap]",
    ]


async def test_a_run_that_stopped_early_with_an_answer_says_why_in_a_notebook_and_with_rich() -> None:
    # a run stopped by its budget after an answer showed "completed (budget)" and the answer, but not the error saying
    # which call did not fit, which its plain repr gave
    orch = Orchestrator(simulate=True)
    orch.providers["sim"].latency_scale = 0  # type: ignore[attr-defined]
    result = await orch.run("Write a long essay about the history of Rome", cost_limit=0.0004, evaluation_threshold=10)
    assert result.status == "completed" and result.stop_reason == "budget" and result.final_response and result.error
    shown = result._repr_html_()
    assert "completed (budget)" in shown and "<th style='text-align:left'>error</th>" in shown
    assert escape(result.error) in shown
    out = io.StringIO()
    Console(file=out, width=400).print(result)
    assert "error" in out.getvalue() and result.error[:60] in out.getvalue()


async def test_rich_print_shows_an_answer_s_escape_sequences_as_symbols_not_to_the_terminal() -> None:
    # `rich.print(result)` wrote a model's answer as it came: `ESC ]0;…` set the terminal's title and, its BEL taken
    # out by rich, swallowed the rest of the panel; `ESC [2J` cleared the screen
    def answer(request: GenerationRequest) -> str:
        return answer_attempt(request) + " \x1b]0;pwned\x07 \x1b[2J \x9b31m done"

    orch = Orchestrator(
        providers=[scripted(answer, lambda _: 9.0)], catalog=catalog("a", "b"), retry=NO_WAIT, router=BayesianRouter()
    )
    result = await orch.run("Hello", max_iterations=1)
    assert result.final_response is not None and "\x1b]0;pwned" in result.final_response  # (kept as the model wrote it)
    out = io.StringIO()
    Console(file=out, width=200, force_terminal=True).print(result)
    shown = out.getvalue()
    assert "\x1b]" not in shown and "\x1b[2J" not in shown and "\x9b" not in shown
    assert "␛]0;pwned␇ ␛[2J �31m done" in shown
