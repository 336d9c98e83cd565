"""Run observers (`orchestratex.telemetry.add_observer`; the server's metrics are one) seen from a real run."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from orchestratex import BayesianRouter, GenerationRequest, MemoryStore, Orchestrator
from orchestratex.exceptions import StoreUnavailable
from orchestratex.orchestrator import RetryPolicy
from orchestratex.records import Orchestration
from orchestratex.telemetry import CallOutcome, add_observer

from .helpers import catalog, scripted
from .telemetry_fixtures import _restore_settings, spans

__all__ = ["_restore_settings", "spans"]


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
        router=BayesianRouter(explore=False),  # (exploring, 13 runs in 400 asked b first, and a was never asked)
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


class _OutageStore(MemoryStore):
    """A store whose writes fail (`StoreUnavailable`, as a database unreachable) once `down` is set."""

    down = False

    async def commit(self, *args: Any, **kwargs: Any) -> Any:
        if self.down:
            raise StoreUnavailable("connection refused")
        return await super().commit(*args, **kwargs)

    async def commit_step(self, *args: Any, **kwargs: Any) -> Any:
        if self.down:
            raise StoreUnavailable("connection refused")
        return await super().commit_step(*args, **kwargs)


async def test_a_run_whose_end_the_store_did_not_take_is_not_counted_as_ended(
    caplog: pytest.LogCaptureFixture, spans: InMemorySpanExporter
) -> None:
    """A run whose final commit failed (the store unreachable) is still `running` in the store, and is resumed from
    there — by this process or another — and ends then. Its observers (the server's `orchestratex_orchestrations_total`)
    saw it end `failed` with reason `error`, the log wrote a `stop` line saying so and its span said
    `orchestratex.status=failed`: each such run was counted as a failure that never happened, and once more when it
    really ended. They now see it stop without ending, as a run handed back: `running`, a `suspended` line."""
    caplog.set_level(logging.INFO, logger="orchestratex")
    store = _OutageStore()
    ended: list[tuple[str, str | None]] = []

    class Recording(_Counting):
        def orchestration_ended(self, doc: Orchestration, duration_s: float) -> None:
            ended.append((doc.status, doc.stop_reason))

    def score(request: GenerationRequest) -> float:
        store.down = True  # (the answer is stored; the verdict and the end are not)
        return 9.5

    o = Orchestrator(
        providers=[scripted(lambda r: f"answer by {r.model.name}", score)],
        catalog=catalog("a", "b"),
        store=store,
        store_retry=RetryPolicy(max_attempts=1),
    )
    async with o:
        add_observer(o, Recording())
        with pytest.raises(StoreUnavailable):
            await o.run("Explain recursion", max_iterations=1)
        store.down = False
        (stored,) = await store.list_orchestrations()
    assert stored.status == "running"
    assert ended == [("running", None)]
    lines = [(r.levelno, r.__dict__.get("event")) for r in caplog.records if r.name == "orchestratex.orchestrator"]
    assert lines == [(logging.INFO, "orchestration_started"), (logging.WARNING, "suspended")]
    (root,) = [s for s in spans.get_finished_spans() if s.name.startswith("invoke_agent")]
    assert dict(root.attributes or {})["orchestratex.status"] == "running"
    assert "orchestratex.stop_reason" not in dict(root.attributes or {})
    assert root.status.status_code is StatusCode.ERROR  # (the run stopped on the store's error, recorded)
