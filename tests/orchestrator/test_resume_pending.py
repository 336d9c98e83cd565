"""`resume_pending()`: each unfinished run is resumed on its own, a bounded number at once; one that fails is logged
and reported as the store has it, and the others are resumed all the same."""

from __future__ import annotations

import asyncio
import json

import pytest

from orchestratex import FunctionProvider, Orchestrator
from orchestratex.exceptions import UserError
from orchestratex.providers import GenerationRequest
from orchestratex.records import Orchestration
from orchestratex.stores import MemoryStore

from ..helpers import NO_WAIT, catalog


class _Faulty(MemoryStore):
    """A store whose reads of some orchestrations fail with an error nothing expects."""

    def __init__(self) -> None:
        super().__init__()
        self.broken: set[str] = set()

    async def release_reservations(self, session_id: str, orchestration_id: str) -> float:
        if orchestration_id in self.broken:
            raise RuntimeError("disk on fire")
        return await super().release_reservations(session_id, orchestration_id)


_in_flight = [0, 0]  # now, most at once


async def _answer(request: GenerationRequest) -> str:
    if request.purpose == "judge":
        return json.dumps({"score": 9, "feedback": "fine"})
    _in_flight[0] += 1
    _in_flight[1] = max(_in_flight[1], _in_flight[0])
    await asyncio.sleep(0.02)
    _in_flight[0] -= 1
    return "an answer"


async def _left_running(orch: Orchestrator, store: MemoryStore, n: int) -> list[Orchestration]:
    """`n` orchestrations a dead process left `running` (their leases expired)."""
    docs = []
    for i in range(n):
        doc = await orch.prepare(f"Question {i}", max_iterations=1)
        doc.status = "running"
        await store.commit(doc, [])
        docs.append(doc)
    return docs


async def test_one_run_that_fails_to_resume_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    store = _Faulty()
    orch = Orchestrator(providers=[FunctionProvider(_answer)], catalog=catalog("a", "b"), retry=NO_WAIT, store=store)
    async with orch:
        docs = await _left_running(orch, store, 3)
        store.broken = {docs[0].id}
        results = await orch.resume_pending()
        assert [r.id for r in results] == [d.id for d in docs]
        assert [r.status for r in results] == ["failed", "completed", "completed"]
        assert results[0].orchestration.error == "RuntimeError: disk on fire"
        assert f"resuming orchestration {docs[0].id} failed: RuntimeError: disk on fire" in caplog.text
        store.broken = set()
        assert await orch.resume_pending() == []  # (its failure was stored: nothing is left to resume)


async def test_runs_are_resumed_side_by_side_up_to_the_bound() -> None:
    _in_flight[:] = [0, 0]
    store = MemoryStore()
    orch = Orchestrator(providers=[FunctionProvider(_answer)], catalog=catalog("a", "b"), retry=NO_WAIT, store=store)
    async with orch:
        await _left_running(orch, store, 6)
        results = await orch.resume_pending(concurrency=4)
        assert [r.status for r in results] == ["completed"] * 6
        assert _in_flight[1] == 4
        _in_flight[:] = [0, 0]
        await _left_running(orch, store, 3)
        assert len(await orch.resume_pending(concurrency=1)) == 3 and _in_flight[1] == 1


@pytest.mark.parametrize("bad", [{"limit": 0}, {"concurrency": 0}, {"concurrency": True}, {"concurrency": 2.5}])
async def test_bad_bounds_are_refused(bad: dict[str, object]) -> None:
    async with Orchestrator(simulate=True) as orch:
        name = next(iter(bad))
        with pytest.raises(UserError, match=rf"resume_pending\({name}=\.\.\.\) must be an int >= 1"):
            await orch.resume_pending(**bad)  # type: ignore[arg-type]


async def test_runs_the_orchestrator_refuses_raise_its_user_error_once_not_a_failure_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    orch = Orchestrator(providers=[FunctionProvider(_answer)], catalog=catalog("a", "b"), retry=NO_WAIT, store=store)
    async with orch:
        docs = await _left_running(orch, store, 3)
        orch._closer.closing = True  # (as while `aclose` stops its runs)
        try:
            with pytest.raises(UserError, match="the orchestrator is being closed"):
                await orch.resume_pending()
        finally:
            orch._closer.closing = False
        assert "resuming orchestration" not in caplog.text
        assert [(await store.get_orchestration(d.id)).status for d in docs] == ["running"] * 3
