"""`RunGuard` in process: an interruption from inside the run (a closed output) cancels it or, with
`detach`, suspends it for another process to resume."""

from __future__ import annotations

import pytest

from orchestratex import Orchestrator
from orchestratex.cli._interrupt import Interrupted, RunGuard
from orchestratex.events import Event
from orchestratex.records import Orchestration
from orchestratex.stores import MemoryStore

from .conftest import PROMPT


@pytest.mark.parametrize("detach", [False, True])
async def test_an_interruption_from_an_event_handler(detach: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0.01")  # calls wait, as real ones do
    store = MemoryStore()
    async with Orchestrator(store=store, simulate=True) as orchestrator:
        guard = RunGuard(orchestrator, detach=detach)
        seen: list[str] = []

        def reader_goes_away(event: Event) -> None:
            seen.append(event.type)
            if event.type == "model_selected":
                guard.interrupt("SIGPIPE")

        with pytest.raises(Interrupted) as stopped:
            await guard.run(PROMPT, user_id="u", on_event=reader_goes_away, evaluation_threshold=9.9)
        assert orchestrator.handlers == []  # the guard's handlers are gone with the run
    interrupted = stopped.value
    assert interrupted.exit_code == 141 and interrupted.cause == "SIGPIPE"
    doc = await store.get_orchestration(interrupted.orchestration_id or "")
    resumable = await store.list_resumable()
    if detach:
        assert (interrupted.status, doc.status, resumable) == ("running", "running", [doc.id])
        assert "is detached" in interrupted.message
    else:
        assert (interrupted.status, doc.status, doc.stop_reason, resumable) == (
            "cancelled",
            "cancelled",
            "cancelled",
            [],
        )
        assert interrupted.message.startswith("stdout was closed: orchestration")
        assert seen[-1] == "orchestration_failed"
    assert "orchestration_completed" not in seen


async def test_an_uninterrupted_run_returns_its_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    async with Orchestrator(simulate=True) as orchestrator:
        result = await RunGuard(orchestrator).run(PROMPT, user_id="u")
    assert result.status == "completed"


async def test_an_interruption_while_the_run_is_being_stored_ends_it_before_any_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C (or SIGTERM) while the run was being stored — kept waiting by a SQLite file another process held,
    say — was acted on at its first event: by then its first model call was on its way, and the run ended
    `cancelled` having paid for it ($0.000129 spent, 1 iteration, for a run stopped before it started)."""
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    guards: list[RunGuard] = []

    class SlowToStore(MemoryStore):
        async def create_orchestration(self, orchestration: Orchestration) -> Orchestration:
            stored = await super().create_orchestration(orchestration)
            guards[0].interrupt("SIGTERM")  # (the signal came while the store wrote)
            return stored

    store = SlowToStore()
    seen: list[str] = []
    async with Orchestrator(store=store, simulate=True) as orchestrator:
        guards.append(RunGuard(orchestrator))
        with pytest.raises(Interrupted) as stopped:
            await guards[0].run(PROMPT, user_id="u", on_event=lambda e: seen.append(e.type))
    interrupted = stopped.value
    assert interrupted.exit_code == 143 and interrupted.status == "cancelled"
    doc = await store.get_orchestration(interrupted.orchestration_id or "")
    assert (doc.status, doc.stop_reason, doc.iterations, doc.total_cost) == ("cancelled", "cancelled", [], 0.0)
    assert "model_selected" not in seen and seen[-1] == "orchestration_failed"
    assert await store.list_resumable() == []
