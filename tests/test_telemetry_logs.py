"""Log lines of a real orchestration: one per model call and per decision, structured, no prompt text by default."""

from __future__ import annotations

import logging

import pytest

from orchestratex import GenerationRequest, MemoryStore, Orchestrator
from orchestratex.exceptions import ProviderError
from orchestratex.orchestrator import RetryPolicy
from orchestratex.telemetry import configure_telemetry
from orchestratex.telemetry._hooks import NOOP, run_telemetry
from orchestratex.telemetry._logs import format_fields

from .helpers import catalog, scripted
from .telemetry_fixtures import _restore_settings

__all__ = ["_restore_settings"]

PROMPT = "Write a Python function that reverses a string, SECRET-PROMPT-TEXT"


def _orchestrator(fail: bool = False) -> Orchestrator:
    """With `fail`, the first generation fails (whichever model the router picks), so a fallback follows."""
    failed: list[str] = []

    def answer(request: GenerationRequest) -> str:
        if fail and not failed:
            failed.append(request.model.name)
            raise ProviderError("the model is down", model=request.model.name, provider="function")
        return f"SECRET-ANSWER by {request.model.name}"

    return Orchestrator(
        providers=[scripted(answer, lambda r: 6.0)],
        catalog=catalog("a", "b", "c", quality={"a": 9, "b": 8, "c": 7}),
        store=MemoryStore(),
        retry=RetryPolicy(max_attempts=1),
    )


def _records(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == event]


async def test_one_info_line_per_model_call_and_per_decision(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="orchestratex")
    async with _orchestrator(fail=True) as o:
        result = await o.run(PROMPT, max_iterations=2, evaluation_threshold=9)
    calls = _records(caplog, "model_call")
    routing = _records(caplog, "routing")
    verdicts = _records(caplog, "verdict")
    (stop,) = _records(caplog, "stop")
    (started,) = _records(caplog, "orchestration_started")
    # a failed call to `a`, then per iteration a generation and a judge
    assert len(calls) == 5
    assert [r.levelno for r in calls].count(logging.WARNING) == 1
    failed = next(r for r in calls if r.levelno == logging.WARNING)
    first = result.orchestration.iterations[0].errors[0].split(": ")[0]
    assert (failed.name, failed.model, failed.outcome, failed.error_type) == (  # type: ignore[attr-defined]
        "orchestratex.providers",
        first,
        "error",
        "ProviderError",
    )
    ok = [r for r in calls if r.levelno == logging.INFO]
    assert sum(r.cost_usd for r in ok) == pytest.approx(result.total_cost)  # type: ignore[attr-defined]
    assert {r.role for r in ok} == {"generate", "judge"}  # type: ignore[attr-defined]
    assert all(r.orchestration_id == result.id for r in caplog.records if hasattr(r, "event"))  # type: ignore[attr-defined]
    line = ok[0]
    message = line.getMessage()
    assert message.startswith("model_call ")
    assert f"model={line.model}" in message and "role=generate" in message  # type: ignore[attr-defined]
    assert f"input_tokens={line.input_tokens}" in message  # type: ignore[attr-defined]

    assert len(routing) == 3  # two iterations, one fallback
    assert all(r.name == "orchestratex.routing" for r in routing)
    assert [getattr(r, "fallback_from", None) for r in routing].count(first) == 1
    assert "reason=" in routing[0].getMessage()
    assert [r.score for r in verdicts] == [6.0, 6.0]  # type: ignore[attr-defined]
    assert all(r.name == "orchestratex.evaluation" for r in verdicts)
    assert stop.name == "orchestratex.orchestrator"
    assert (stop.stop_reason, stop.status, stop.iterations) == ("max_iterations", "completed", 2)  # type: ignore[attr-defined]
    assert "stop_reason=max_iterations" in stop.getMessage()
    assert started.resumed is False  # type: ignore[attr-defined]
    text = caplog.text
    assert "SECRET-PROMPT-TEXT" not in text and "SECRET-ANSWER" not in text and "feedback from" not in text


async def test_a_run_that_failed_for_its_budget_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A run that ended `failed`, without an answer, because no model fit its budget logged its `stop` line at INFO,
    among the lines of every run that went well: an operator watching WARNING lines for failed runs missed it."""
    caplog.set_level(logging.INFO, logger="orchestratex")
    async with _orchestrator() as o:
        result = await o.run(PROMPT, cost_limit=0.000_000_1)
    assert (result.status, result.stop_reason) == ("failed", "budget")
    (stop,) = _records(caplog, "stop")
    assert stop.levelno == logging.WARNING
    assert (stop.status, stop.stop_reason) == ("failed", "budget")  # type: ignore[attr-defined]
    assert "no model's worst-case cost" in stop.error  # type: ignore[attr-defined]
    caplog.clear()
    async with _orchestrator() as o:
        await o.run(PROMPT, max_iterations=1)
    (stop,) = _records(caplog, "stop")
    assert stop.levelno == logging.INFO and stop.status == "completed"  # type: ignore[attr-defined]


async def test_content_is_logged_only_when_asked_for(caplog: pytest.LogCaptureFixture) -> None:
    configure_telemetry(include_content=True)
    caplog.set_level(logging.INFO, logger="orchestratex")
    async with _orchestrator() as o:
        await o.run(PROMPT, max_iterations=1)
    assert "SECRET-PROMPT-TEXT" in _records(caplog, "orchestration_started")[0].getMessage()
    assert "SECRET-ANSWER" in _records(caplog, "model_call")[0].getMessage()
    assert "feedback from" in _records(caplog, "verdict")[0].getMessage()


async def test_nothing_listening_means_the_shared_no_op(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="orchestratex")
    async with _orchestrator() as o:
        doc = await o.prepare(PROMPT)
        assert run_telemetry(o, doc) is NOOP
        caplog.set_level(logging.INFO, logger="orchestratex.routing")
        assert run_telemetry(o, doc) is not NOOP


def test_fields_are_logfmt() -> None:
    line = format_fields({"a": 1, "b": "two words", "c": None, "d": 0.5, "e": True, "f": 'q"uote', "g": ""})
    assert line == 'a=1 b="two words" d=0.5 e=true f="q\\"uote" g=""'


async def test_the_cost_of_a_cheap_call_is_logged_as_it_is(caplog: pytest.LogCaptureFixture) -> None:
    """A call costing under half a micro-dollar was logged as `cost_usd=0`."""
    caplog.set_level(logging.INFO, logger="orchestratex")
    orchestrator = Orchestrator(
        providers=[scripted(lambda r: "ok", lambda r: 9.0)],
        catalog=catalog("a", "b", price=0.00001, quality={"a": 9, "b": 8}),
        store=MemoryStore(),
    )
    async with orchestrator as o:
        await o.run("Hi", max_iterations=1)
    calls = _records(caplog, "model_call")
    assert any(0 < r.cost_usd < 5e-7 for r in calls)  # type: ignore[attr-defined]
    for r in calls:
        assert f" cost_usd={r.cost_usd:.12f}".rstrip("0") in r.getMessage()  # type: ignore[attr-defined]


def test_floats_keep_every_pico_dollar() -> None:
    assert format_fields({"a": 4e-07, "b": 2e-12, "c": 0.0, "d": 0.1 + 0.2, "e": 1234.5}) == (
        "a=0.0000004 b=0.000000000002 c=0 d=0.3 e=1234.5"
    )


def test_a_float_is_written_as_the_number_it_is() -> None:
    """`orchestratex run -v` (and `serve`'s log) wrote `duration_ms=19441.099999999999` for a run of 19.4411 s: the
    binary float's expansion to 12 decimals, past the digits it holds."""
    assert format_fields({"duration_ms": 19441.1, "latency_ms": 12345.6, "cost_usd": 1234.000001, "n": 3.0}) == (
        "duration_ms=19441.1 latency_ms=12345.6 cost_usd=1234.000001 n=3"
    )
    for value in (19441.1, 98765.4321, 0.0121895, 7.0, 123456789.25):
        assert float(format_fields({"v": value}).removeprefix("v=")) == value


def test_every_line_boundary_is_escaped() -> None:
    """U+2028, U+2029 and NEL were left as they were (JSON keeps them): a log line held two lines."""
    for breaker in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029":
        line = format_fields({"reason": f"a{breaker}b", "model": "c"})
        assert len(line.splitlines()) == 1, repr(line)
        assert line.endswith(" model=c")
    assert format_fields({"reason": "naïve\u2028x"}) == 'reason="naïve\\u2028x"'


async def test_a_prompt_with_a_line_separator_stays_on_one_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="orchestratex")
    configure_telemetry(include_content=True)
    async with _orchestrator() as o:
        await o.run("first\u2028second\u2029third\x85fourth", max_iterations=1)
    lines = [r.getMessage() for r in caplog.records if getattr(r, "event", None)]
    assert any("first\\u2028second\\u2029third\\u0085fourth" in line for line in lines)
    assert all(len(line.splitlines()) == 1 for line in lines)


async def test_a_judgment_cut_short_by_a_cancellation_is_logged_as_cancelled(caplog: pytest.LogCaptureFixture) -> None:
    """A run cancelled (or handed back on shutdown) while its judges answered logged its verdict line as
    `outcome=error error="CancelledError: "`, though its call lines said `outcome=cancelled`."""
    import asyncio

    from orchestratex import FunctionProvider

    judging = asyncio.Event()

    async def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            judging.set()
            await asyncio.sleep(30)
        return "an answer"

    caplog.set_level(logging.INFO, logger="orchestratex")
    async with Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("a", "b"), store=MemoryStore()) as o:
        doc = await o.prepare(PROMPT)
        task = o.start(doc)
        await judging.wait()
        assert await o.cancel(doc.id)
    assert task.cancelled()
    (verdict,) = _records(caplog, "verdict")
    assert verdict.outcome == "cancelled"  # type: ignore[attr-defined]
    assert getattr(verdict, "error", None) is None
    assert "outcome=cancelled" in verdict.getMessage() and "CancelledError" not in verdict.getMessage()
    judge_calls = [r for r in _records(caplog, "model_call") if r.role == "judge"]  # type: ignore[attr-defined]
    assert [r.outcome for r in judge_calls] == ["cancelled"]  # type: ignore[attr-defined]
    # not failures: no WARNING (every graceful stop with runs in flight wrote one per call and per panel)
    assert [r.levelno for r in judge_calls] == [logging.INFO] and verdict.levelno == logging.INFO


async def test_the_line_said_before_a_retry_names_its_run(caplog: pytest.LogCaptureFixture) -> None:
    """`openai:gpt-4.1 failed (RateLimited); retrying in 2.0 s (attempt 2 of 3)` named no run: a server running many
    runs, a provider rate-limiting them all, wrote these lines with nothing to tell which run waited on the model (the
    `model_call` line, which names it, comes only once the retries are over)."""
    from orchestratex.exceptions import RateLimited

    caplog.set_level(logging.INFO, logger="orchestratex")
    failed: list[str] = []

    def answer(request: GenerationRequest) -> str:
        if request.purpose != "judge" and not failed:
            failed.append(request.model.name)
            raise RateLimited("slow down", model=request.model.name)
        return "an answer"

    async with Orchestrator(
        providers=[scripted(answer, lambda r: 9.5)],
        catalog=catalog("a", "b", quality={"a": 9.0, "b": 6.0}),
        store=MemoryStore(),
        retry=RetryPolicy(max_attempts=2, initial_wait=0, max_wait=0),
    ) as o:
        result = await o.run("Explain recursion", max_iterations=1)
    assert result.status == "completed"
    (retry,) = [r for r in caplog.records if "retrying in" in r.getMessage()]
    doc = result.orchestration
    assert retry.getMessage().endswith(f"(attempt 2 of 2) for orchestration {doc.id}")
    fields = retry.__dict__
    assert (fields["orchestration_id"], fields["session_id"], fields["thread_id"]) == (
        doc.id,
        doc.session_id,
        doc.thread_id,
    )
    assert (fields["model"], fields["error_type"], fields["attempt"]) == (failed[0], "RateLimited", 2)
