"""Run observers (`orchestratex.telemetry.add_observer`; the server's metrics are one) seen from a real run."""

from __future__ import annotations

import logging

import pytest

from orchestratex import GenerationRequest, MemoryStore, Orchestrator
from orchestratex.records import Orchestration
from orchestratex.telemetry import CallOutcome, add_observer

from .helpers import catalog, scripted
from .telemetry_fixtures import _restore_settings

__all__ = ["_restore_settings"]


class _Counting:
    """Counts what it sees; `broken` names the method that raises."""

    def __init__(self, broken: str = "") -> None:
        self.broken = broken
        self.seen: list[str] = []

    def _see(self, what: str) -> None:
        self.seen.append(what)
        if what == self.broken:
            raise ValueError(f"the metrics backend is down ({what})")

    def orchestration_started(self, doc: Orchestration) -> None:
        self._see("orchestration_started")

    def orchestration_ended(self, doc: Orchestration, duration_s: float) -> None:
        self._see("orchestration_ended")

    def model_called(self, call: CallOutcome) -> None:
        self._see("model_called")


def _orchestrator() -> Orchestrator:
    def answer(request: GenerationRequest) -> str:
        return f"answer by {request.model.name}"

    return Orchestrator(providers=[scripted(answer, lambda r: 9.5)], catalog=catalog("a", "b"), store=MemoryStore())


@pytest.mark.parametrize("broken", ["orchestration_started", "model_called", "orchestration_ended"])
async def test_an_observer_that_raises_does_not_fail_the_run(caplog: pytest.LogCaptureFixture, broken: str) -> None:
    """An observer whose method raised (a metrics client's bug, its backend down) failed every run: stored `failed`
    as "failed unexpectedly" after its calls were paid for, the error raised to the caller. The run now goes on,
    and the observer's failure is logged once with its traceback."""
    caplog.set_level(logging.DEBUG, logger="orchestratex.telemetry")
    broken_one, sound = _Counting(broken), _Counting()
    async with _orchestrator() as o:
        add_observer(o, broken_one)
        add_observer(o, sound)
        first = await o.run("Explain recursion", max_iterations=1)
        second = await o.run("Explain iteration", max_iterations=1)
    assert (first.status, second.status) == ("completed", "completed")
    assert sound.seen == broken_one.seen  # (each observer sees everything, the one after the broken one too)
    assert sound.seen.count("orchestration_ended") == 2 and sound.seen.count("model_called") == 4
    failures = [r for r in caplog.records if r.name == "orchestratex.telemetry"]
    assert [r.levelno for r in failures][:1] == [logging.ERROR] and failures[0].exc_info is not None
    assert f"_Counting failed in {broken}" in failures[0].getMessage()
    assert all(r.levelno == logging.DEBUG for r in failures[1:])  # (logged in full once, not once per call)


async def test_a_paid_empty_answer_is_a_failed_call_to_observers_and_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An empty answer is the model's failed attempt (paid for, never judged, the run falls back), but observers (the
    server's metrics) and the `model_call` log line counted it `ok`: a model answering nothing looked healthy."""
    caplog.set_level(logging.INFO, logger="orchestratex")
    calls: list[CallOutcome] = []

    class Recording(_Counting):
        def model_called(self, call: CallOutcome) -> None:
            calls.append(call)

    def answer(request: GenerationRequest) -> str:
        return "" if request.model.name == "function:a" else "an answer"

    orch = Orchestrator(
        providers=[scripted(answer, lambda r: 9.5)],
        catalog=catalog("a", "b", "c", quality={"a": 9.9, "b": 7.0, "c": 6.0}),
        store=MemoryStore(),
    )
    async with orch as o:
        add_observer(o, Recording())
        result = await o.run("Explain recursion", max_iterations=1, preferred_models=["function:a", "function:b"])
    assert result.status == "completed" and result.final_model == "function:b"
    (empty,) = [c for c in calls if c.model == "function:a" and c.role == "generate"]
    assert (empty.outcome, empty.error_type) == ("error", "EmptyAnswer") and empty.cost > 0
    assert [c.outcome for c in calls if c.model == "function:b" and c.role == "generate"] == ["ok"]
    (line,) = [
        r
        for r in caplog.records
        if getattr(r, "event", None) == "model_call"
        and (getattr(r, "model", None), getattr(r, "role", None)) == ("function:a", "generate")
    ]
    assert line.levelno == logging.WARNING
    assert (getattr(line, "outcome", None), getattr(line, "error_type", None)) == ("error", "EmptyAnswer")


async def test_an_observer_added_twice_sees_each_run_once() -> None:
    """An observer added again (an app factory, a test fixture run twice) saw every run and every call twice, so the
    counts it keeps (a metrics client's) doubled."""
    seen = _Counting()
    async with _orchestrator() as o:
        add_observer(o, seen)
        add_observer(o, seen)
        await o.run("Explain recursion", max_iterations=1)
    assert seen.seen.count("orchestration_started") == 1 and seen.seen.count("orchestration_ended") == 1
    assert seen.seen.count("model_called") == 2
