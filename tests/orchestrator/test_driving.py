"""Driving a stored orchestration (`Orchestrator.drive`, `resume_pending`): one whose run cannot even be set up ends
`failed` with the reason, rather than staying `pending` for every process to take up and fail on again."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestratex import FunctionProvider, Orchestrator, UserError
from orchestratex.events import OrchestrationStarted
from orchestratex.orchestrator import _driving
from orchestratex.orchestrator._run import Run
from orchestratex.providers import GenerationRequest
from orchestratex.records import Iteration
from orchestratex.stores import SQLiteStore

from ..helpers import NO_WAIT, catalog
from ..ledger import ledger_problems


def _answer(request: GenerationRequest) -> str:
    return json.dumps({"score": 9, "feedback": "fine"}) if request.purpose == "judge" else "an answer"


class _Unbuildable(Run):
    """A run whose setup fails (fault injection: nothing in the library is known to fail there)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the run could not be set up")


@pytest.mark.parametrize("status", ["pending", "running", "generated"])
async def test_a_stored_run_whose_setup_fails_ends_failed_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, status: str
) -> None:
    store = SQLiteStore(tmp_path / "runs.db")
    orch = Orchestrator(providers=[FunctionProvider(_answer)], catalog=catalog("a", "b"), retry=NO_WAIT, store=store)
    async with orch:
        doc = await orch.prepare("Hello there", max_iterations=1, cost_limit=1.0)
        if status != "pending":  # (left so by a process that died)
            doc.status = "running"
            if status == "generated":  # its answer paid for, its judging yet to come
                answer = Iteration(index=1, model_name="function:a", prompt=doc.prompt, phase="generated")
                answer.response, answer.cost, answer.catalog_cost = "an answer", 0.002, 0.002
                doc.iterations.append(answer)
                doc.total_cost = 0.002
            started = OrchestrationStarted(
                orchestration_id=doc.id,
                thread_id=doc.thread_id,
                session_id=doc.session_id,
                prompt=doc.prompt,
                domain="general",
                max_iterations=1,
                evaluation_threshold=doc.settings.evaluation_threshold,
            )
            await store.commit(doc, [started], spent=doc.total_cost)
            assert await store.reserve_budget(doc.session_id, doc.id, 0.25)
        monkeypatch.setattr(_driving, "Run", _Unbuildable)
        with pytest.raises(RuntimeError, match="could not be set up"):
            await orch.drive(doc.id)
        stored = await store.get_orchestration(doc.id)
        assert (stored.status, stored.stop_reason) == ("failed", "error")
        assert stored.error == "RuntimeError: the run could not be set up"
        [first, event] = await store.list_events(doc.session_id, orchestration_id=doc.id)
        assert first.type == "orchestration_started"
        assert event.type == "orchestration_failed" and event.error == stored.error
        assert await store.list_resumable() == []  # not taken up again by the next process
        assert (await store.get_session(doc.session_id)).reserved_cost == 0
        assert await store.claim(doc.id, "another process", 30)  # the lease was given up
        if status == "generated":  # (made by hand, without the events of its selection and answer)
            analytics = await store.session_analytics(doc.session_id)
            assert [(m.model_name, m.cost) for m in analytics.models] == [("function:a", 0.002)]  # paid for: counted
        else:
            assert await ledger_problems(store, doc.session_id) == []
        monkeypatch.undo()
        result = await orch.run("Hello again", max_iterations=1)  # (the orchestrator goes on)
        assert result.status == "completed"


async def test_start_and_drive_refuse_what_is_no_orchestration_saying_what_to_pass() -> None:
    """`start(result)` of a `RunResult` (a suspended run's, to resume it) raised "TypeError: unhashable type:
    'RunResult'" and left a task failing with `NotFound` ("Task exception was never retrieved"); `drive(result)` and
    `drive(None)` said `NotFound: no orchestration "RunResult(id=…"`, as if the run did not exist."""
    orch = Orchestrator(providers=[FunctionProvider(_answer)], catalog=catalog("a", "b"), retry=NO_WAIT)
    async with orch:
        prepared = await orch.prepare("Say something", max_iterations=1)
        result = await orch.drive(prepared.id)
        assert result.status == "completed"
        said = r"takes an orchestration's id \(or the Orchestration\), not RunResult RunResult\(id='" + result.id
        with pytest.raises(UserError, match=rf"^start\(\) {said}'.*: pass its id, start\(result.id\)$"):
            orch.start(result)  # type: ignore[arg-type]
        with pytest.raises(UserError, match=rf"^drive\(\) {said}'.*: pass its id, drive\(result.id\)$"):
            await orch.drive(result)  # type: ignore[arg-type]
        with pytest.raises(UserError, match=r"^start\(\) takes an orchestration's id .*, not NoneType None$"):
            orch.start(None)  # type: ignore[arg-type]
        with pytest.raises(UserError, match=r"^drive\(\) takes an orchestration's id .*, not NoneType None$"):
            await orch.drive(None)  # type: ignore[arg-type]
        assert (await orch.drive(result.id)).status == "completed"  # the id, as the message says
        assert not orch._tasks
