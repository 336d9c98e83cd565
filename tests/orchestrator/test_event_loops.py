"""One orchestrator used from one event loop after another: `run_sync`'s own loop, then `asyncio.run`, then
another: its background tasks (lease keeper, cancel watcher) follow the runs, and `aclose` works anywhere."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from orchestratex import FunctionProvider, GenerationRequest, Orchestrator

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
