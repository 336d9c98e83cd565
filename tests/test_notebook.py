"""The library in a real Jupyter kernel, where an event loop is always running: `run_sync` works there (the README's
first example, twice, between awaited runs, then `close()`), top-level `await orchestrator.run(...)` works and shows an
HTML summary, a `run_stream` cell the user interrupts leaves a cancelled run that `stream.result` gives, and `close()`
with a run under way on the kernel's loop says to `await aclose()` instead of hanging the kernel (skipped without
nbclient and ipykernel)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

import orchestratex

CELLS = [
    """
from orchestratex import Orchestrator
orch = Orchestrator(simulate=True, store="sqlite:///runs.db")
sim = orch.providers["sim"]
sim.latency_scale = 0
first = orch.run_sync("Hello", max_iterations=1)
second = orch.run_sync("Hello again", max_iterations=1)
print("sync:", first.status, second.status)
""",
    """
result = await orch.run("Explain how a hash map handles collisions", max_iterations=1)
result
""",
    """
sim.latency_scale = 100  # every answer takes minutes: the cell is interrupted
async with orch.run_stream("Explain TCP slow start", max_iterations=3) as stream:
    async for item in stream:
        pass
""",
    """
sim.latency_scale = 0
print("stream:", stream.result.status, stream.result.stop_reason)
print("again:", (await orch.run("And now?", max_iterations=1)).status)
print("sync after await:", orch.run_sync("And sync?", max_iterations=1).status)
orch.close()
with Orchestrator(simulate=True) as other:
    other.providers["sim"].latency_scale = 0
    print("with:", other.run_sync("Hi", max_iterations=1).status)
""",
    """
import asyncio
third = Orchestrator(simulate=True)
third.providers["sim"].latency_scale = 3
task = asyncio.create_task(third.run("In the background", max_iterations=3))
await asyncio.sleep(0.2)
try:
    third.close()  # it would wait for the task while blocking the kernel's loop, which the task needs
except Exception as exc:
    print("close:", type(exc).__name__, exc)
await third.aclose()
print("background:", (await task).status)
""",
]


def test_the_library_in_a_jupyter_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the kernel imports the orchestratex under test
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(orchestratex.__file__).parents[1]), *sys.path]))
    nbformat: Any = pytest.importorskip("nbformat")
    nbclient: Any = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c.strip()) for c in CELLS])
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=60,
        timeout_func=lambda cell: 3 if "interrupted" in cell.source else 60,
        interrupt_on_timeout=True,
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [cell.get("outputs", []) for cell in nb.cells]

    def text(i: int) -> str:
        return "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs[i])

    assert "sync: completed completed" in text(0), text(0)
    html = [o["data"]["text/html"] for o in outputs[1] if "text/html" in o.get("data", {})]
    assert html and "<table>" in html[0] and "completed" in html[0]
    assert re.match(r"RunResult\(id='[0-9a-f]{24}', status='completed'", text(1))
    assert [o.get("ename") for o in outputs[2] if o["output_type"] == "error"] in (
        ["CancelledError"],
        ["KeyboardInterrupt"],
    )
    assert "stream: cancelled cancelled" in text(3) and "again: completed" in text(3)
    assert "sync after await: completed" in text(3) and "with: completed" in text(3), text(3)
    assert not [o for o in outputs[3] if o["output_type"] == "error"]
    assert "close: UserError close() cannot stop the runs under way on the running event loop" in text(4), text(4)
    assert "background: cancelled" in text(4)
