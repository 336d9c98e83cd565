"""One orchestrator used from one event loop after another: `run_sync`'s own loop, then `asyncio.run`, then
another: its background tasks (lease keeper, cancel watcher) follow the runs, and `aclose` works anywhere."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest

from orchestratex import FunctionProvider, GenerationRequest, Orchestrator, RunResult, UserError

from ..helpers import catalog


async def answer(request: GenerationRequest) -> str:
    if request.purpose == "judge":
        return json.dumps({"score": 9, "feedback": "fine"})
    if "slowly" in request.messages[-1].content:
        await asyncio.sleep(30)  # until cancelled
    return "an answer"


def test_runs_on_loop_after_loop_then_aclose_on_yet_another(tmp_path: Path) -> None:
    orch = Orchestrator(
        providers=[FunctionProvider(answer)], catalog=catalog("a", "b"), store=f"sqlite:///{tmp_path / 'loops.db'}"
    )  # (its own store: closed by `aclose`, its threads with it)
    orch.cancel_check_s = 0.05
    assert orch.run_sync("Hello").status == "completed"  # its background tasks on run_sync's loop

    async def on_another_loop() -> tuple[str, str | None]:
        assert (await orch.run("Explain RAID 5")).status == "completed"
        doc = await orch.prepare("Answer slowly")
        task = orch.start(doc)
        await orch.store.request_cancel(doc.id)  # the watcher, now on this loop, sees it
        result = await asyncio.wait_for(task, 10)
        return result.status, result.stop_reason

    assert asyncio.run(on_another_loop()) == ("cancelled", "cancelled")
    assert asyncio.run(orch.run("Once more")).status == "completed"
    assert orch.run_sync("And again").status == "completed"

    async def close() -> None:
        await orch.aclose()  # its keeper and watcher were started on run_sync's loop: stopped there

    asyncio.run(close())
    orch.close()


def _run_sync_in_a_thread(orch: Orchestrator, prompt: str) -> tuple[threading.Thread, dict[str, object], str]:
    """`run_sync(prompt)` in a thread of its own, once it is under way: the thread, what it got, the run's id."""
    got: dict[str, object] = {}

    def call() -> None:
        try:
            got["result"] = orch.run_sync(prompt)
        except BaseException as exc:
            got["error"] = exc

    thread = threading.Thread(target=call)
    thread.start()
    for _ in range(500):
        if orch._tasks:
            break
        time.sleep(0.01)
    (oid,) = orch._tasks
    time.sleep(0.1)  # its answer is being awaited
    return thread, got, oid


def test_cancel_from_another_event_loop_stops_a_run_sync_run_and_its_caller_gets_the_result() -> None:
    with Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("a", "b")) as orch:
        thread, got, oid = _run_sync_in_a_thread(orch, "Answer slowly")

        assert asyncio.run(orch.cancel(oid)) is True
        stored = orch._portal.call(orch.store.get_orchestration(oid))  # (on the run's loop, where its store is)
        assert stored.status == "cancelled"  # `cancel` returned once the run had ended
        thread.join(10)
        result = got.get("result")
        assert isinstance(result, RunResult), got  # not a CancelledError its caller did not ask for
        assert result.status == "cancelled" and result.orchestration.error == "the orchestration was cancelled"
        assert asyncio.run(orch.cancel(oid)) is False  # it has ended


def test_suspend_from_another_event_loop_leaves_a_run_sync_run_resumable() -> None:
    with Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("a", "b")) as orch:
        thread, got, oid = _run_sync_in_a_thread(orch, "Answer slowly")
        assert asyncio.run(orch.suspend(oid)) is True
        thread.join(10)
        assert not thread.is_alive() and "error" not in got  # (it got a bare CancelledError: now the suspended run)
        assert isinstance(got["result"], RunResult) and (got["result"].id, got["result"].status) == (oid, "running")
        stored = orch._portal.call(orch.store.get_orchestration(oid))
        assert stored.status == "running" and stored.abandoned_calls == 1


def test_start_outside_an_event_loop_says_to_call_it_from_async_code() -> None:
    # It raised asyncio's bare "RuntimeError: no running event loop" and warned "coroutine 'Orchestrator.drive' was
    # never awaited"; the prepared orchestration stays pending, and runs to its end from synchronous code.
    orch = Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("a", "b"))
    doc = asyncio.run(orch.prepare("Hello"))
    with pytest.raises(UserError, match=r"start\(\) runs the orchestration in a task of the running event loop"):
        orch.start(doc)
    assert asyncio.run(orch.store.get_orchestration(doc.id)).status == "pending"
    assert asyncio.run(orch.drive(doc.id)).status == "completed"
    orch.close()
