"""A kernel restarted (killed) while a run of a session with a budget was under way: in the next kernel,
`await orchestrator.cancel(id)` of that run, left `running` by the dead kernel, ends it `cancelled` once its lease has
expired and frees the session's budget it held; while another orchestrator still drives it, `cancel` leaves it alone."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from orchestratex import MemoryStore, Orchestrator, SimulatedProvider

from .kernel_cells import run_cells


def test_cancel_ends_the_run_a_restarted_kernel_left_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It returned False and left the run `running`, holding its reservation: every later run of the session waited
    `reservation_wait_s` and failed on the budget, until `resume_pending()` ran the dead kernel's run to its end and
    paid for it."""
    exceptions: Any = pytest.importorskip("nbclient.exceptions")
    with pytest.raises(exceptions.DeadKernelError):
        run_cells(
            [
                """
import asyncio, os
from orchestratex import Orchestrator
orch = Orchestrator(simulate=True, store="sqlite:///runs.db", lease_ttl_s=1)
orch.providers["sim"].latency_scale = 100  # every answer takes minutes
session = await orch.create_session(cost_limit=0.002)
task = asyncio.create_task(orch.run("Explain TCP slow start", max_iterations=3, session=session.id))
for _ in range(600):  # (until its first answer's reservation is held, not for 1 s: a loaded runner took longer)
    if (await orch.store.get_session(session.id)).reserved_cost > 0:
        break
    await asyncio.sleep(0.05)
""",
                "os._exit(1)  # the kernel restarted",
            ],
            tmp_path,
            monkeypatch,
        )
    cells = run_cells(
        [
            """
import asyncio
from orchestratex import Orchestrator
orch = Orchestrator(simulate=True, store="sqlite:///runs.db", reservation_wait_s=0)
orch.providers["sim"].latency_scale = 0
await orch.store.open()
left, = await orch.store.list_orchestrations()
print("left:", left.status, (await orch.store.get_session(left.session_id)).reserved_cost > 0)
await asyncio.sleep(1.5)  # its lease expires
print("cancel:", await orch.cancel(left.id))
stopped = await orch.store.get_orchestration(left.id)
print("stopped:", stopped.status, stopped.interrupted_calls)
print("held:", (await orch.store.get_session(left.session_id)).reserved_cost)
print("next:", (await orch.run("And now?", max_iterations=1, session=left.session_id)).status)
""",
        ],
        tmp_path,
        monkeypatch,
    )
    said = cells[0].text
    assert "left: running True" in said, said
    assert "cancel: True" in said and "stopped: cancelled 1" in said and "held: 0.0" in said, said
    assert "next: completed" in said, said


async def test_cancel_leaves_alone_a_run_another_orchestrator_drives() -> None:
    store = MemoryStore()
    async with Orchestrator(simulate=True, store=store) as driving, Orchestrator(simulate=True, store=store) as other:
        sim = driving.providers["sim"]
        assert isinstance(sim, SimulatedProvider)
        sim.latency_scale = 0
        started = asyncio.Event()
        go_on = asyncio.Event()

        async def hold(event: Any) -> None:
            if event.type == "model_selected" and not started.is_set():
                started.set()
                await go_on.wait()

        driving.handlers = [hold]
        task = asyncio.create_task(driving.run("Hello", max_iterations=1))
        await started.wait()
        (running,) = await store.list_orchestrations()
        assert await other.cancel(running.id) is False
        go_on.set()
        assert (await task).status == "completed"
