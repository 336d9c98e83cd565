"""An event handler with a bug fails on every event: its traceback is logged the first time it fails so, then one line
each time; every event's failure printed the whole traceback, a dozen per run in a notebook cell."""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestratex import Event, Orchestrator

from .kernel_cells import run_cells


def test_a_handler_failing_the_same_way_logs_its_traceback_once(caplog: pytest.LogCaptureFixture) -> None:
    def bad(event: Event) -> float:
        return event.score  # type: ignore[union-attr]  # (not every event has a score)

    def worse(event: Event) -> None:
        raise RuntimeError(f"no {event.type}")

    orch = Orchestrator(simulate=True)
    orch.providers["sim"].latency_scale = 0  # type: ignore[attr-defined]
    with caplog.at_level(logging.ERROR, logger="orchestratex.events"):
        first = orch.run_sync("Hello", max_iterations=2, on_event=[bad, worse])
        second = orch.run_sync("Hello again", max_iterations=1, on_event=[bad, worse])
    orch.close()
    assert first.status == second.status == "completed"
    failures = [r for r in caplog.records if "event handler" in r.getMessage()]
    events = [e.type for e in (*first.events, *second.events)]
    expected = len(events) + sum(t != "evaluation_completed" for t in events)  # (`worse` on each, `bad` on all but)
    assert len(failures) == expected, [r.getMessage() for r in failures]
    full = [r.exc_info[1] for r in failures if r.exc_info]
    assert [type(e) for e in full] == [AttributeError, RuntimeError]  # each handler's traceback, once
    again = [r.getMessage() for r in failures if not r.exc_info]
    assert all(" failed again on " in m and "(traceback logged at its first failure)" in m for m in again)
    assert any("RuntimeError: no orchestration_completed" in m for m in again)


def test_a_failing_handler_in_a_notebook_cell_prints_one_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cells = run_cells(
        [
            """
from orchestratex import Orchestrator
orch = Orchestrator(simulate=True)
orch.providers["sim"].latency_scale = 0
def on_event(event):
    print(event.score)  # not every event has a score
result = await orch.run("Hello", max_iterations=2, evaluation_threshold=10, on_event=on_event)
print("status:", result.status)
""",
        ],
        tmp_path,
        monkeypatch,
    )
    assert "status: completed" in cells[0].text
    assert cells[0].stderr.count("Traceback (most recent call last)") == 1, cells[0].stderr
    assert cells[0].stderr.count("failed again on") >= 3  # (on each other event but `evaluation_completed`)


@dataclass(slots=True)
class _SlotsHandler:
    """A callable object that cannot be weakly referenced (`__slots__`)."""

    calls: int = 0

    def __call__(self, event: Event) -> None:
        raise RuntimeError(f"slots: no {event.type}")


@dataclass
class _DataclassHandler:
    """A callable object that cannot be hashed (a dataclass compared by its fields)."""

    calls: int = 0

    def __call__(self, event: Event) -> None:
        raise RuntimeError(f"dataclass: no {event.type}")


def test_a_failing_handler_that_cannot_be_a_key_logs_its_traceback_once(caplog: pytest.LogCaptureFixture) -> None:
    # a `@dataclass(slots=True)` callable (not weakly referable) or a plain `@dataclass` one (not hashable) logged the
    # whole traceback on every event of every run
    orch = Orchestrator(simulate=True, on_event=[_SlotsHandler(), _DataclassHandler()])
    orch.providers["sim"].latency_scale = 0  # type: ignore[attr-defined]
    with caplog.at_level(logging.ERROR, logger="orchestratex.events"):
        first = orch.run_sync("Hello", max_iterations=1)
        second = orch.run_sync("Hello again", max_iterations=1)
    orch.close()
    failures = [r for r in caplog.records if "event handler" in r.getMessage()]
    assert len(failures) == 2 * (len(first.events) + len(second.events))
    full = [str(r.exc_info[1]) for r in failures if r.exc_info]
    assert full == ["slots: no orchestration_started", "dataclass: no orchestration_started"]


def _exit_on_first_answer(event: Event) -> None:
    if event.type == "response_generated":
        sys.exit("too expensive: stopping")


def test_a_handler_calling_sys_exit_in_run_sync_ends_the_run_cancelled(tmp_path: Path) -> None:
    """A script's handler stopping it with `sys.exit()` left the run `running` in the store, its lease and its
    session's reservation held (a later `resume_pending()` would go on paying for it), and the SystemExit stopped the
    orchestrator's loop thread: every later `run_sync` failed, and the interpreter's exit printed "RuntimeError: Event
    loop is closed". The run now ends `cancelled` saying why, the SystemExit reaches the caller, and the orchestrator
    runs on."""
    orch = Orchestrator(simulate=True, store=f"sqlite:///{tmp_path / 'runs.db'}")
    orch.providers["sim"].latency_scale = 0  # type: ignore[attr-defined]
    with pytest.raises(SystemExit, match="too expensive: stopping"):
        orch.run_sync("Write a haiku about rivers", max_iterations=3, on_event=_exit_on_first_answer)
    (stopped,) = asyncio.run(orch.store.list_orchestrations())
    assert stopped.status == "cancelled" and stopped.stop_reason == "cancelled"
    assert stopped.error is not None and stopped.error.startswith("stopped by SystemExit: too expensive: stopping")
    session = asyncio.run(orch.store.get_session(stopped.session_id))
    assert session.reserved_cost == 0.0 and session.total_cost == stopped.total_cost > 0
    assert orch.run_sync("Write a haiku about lakes", max_iterations=1).status == "completed"
    orch.close()


async def test_a_handler_calling_sys_exit_in_an_awaited_run_ends_the_run_cancelled(tmp_path: Path) -> None:
    async with Orchestrator(simulate=True, store=f"sqlite:///{tmp_path / 'runs.db'}") as orch:
        orch.providers["sim"].latency_scale = 0  # type: ignore[attr-defined]
        with pytest.raises(SystemExit):
            await orch.run("Write a haiku about rivers", max_iterations=3, on_event=_exit_on_first_answer)
        (stopped,) = await orch.store.list_orchestrations()
        assert stopped.status == "cancelled" and "SystemExit" in (stopped.error or "")
        assert (await orch.store.get_session(stopped.session_id)).reserved_cost == 0.0
        assert await orch.store.list_resumable(limit=10) == []
