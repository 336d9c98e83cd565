"""`run_sync` in a Jupyter cell while runs started in an earlier cell are under way on the kernel's loop: refused with
an error that says where those runs are and what to do, not "on another event loop (in another thread)"."""

from __future__ import annotations

from pathlib import Path

import pytest

from .kernel_cells import run_cells


def test_run_sync_beside_a_task_of_an_earlier_cell_says_where_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cells = run_cells(
        [
            """
import asyncio
from orchestratex import Orchestrator
orch = Orchestrator(simulate=True, store="sqlite:///runs.db")
orch.providers["sim"].latency_scale = 1
task = asyncio.create_task(orch.run("In the background", max_iterations=2))
""",
            """
try:
    orch.run_sync("Meanwhile", max_iterations=1)
except Exception as exc:
    print(type(exc).__name__, exc)
""",
            """
orch.providers["sim"].latency_scale = 0
print("then:", (await task).status, orch.run_sync("Now", max_iterations=1).status)
""",
        ],
        tmp_path,
        monkeypatch,
    )
    said = cells[1].text
    assert said.startswith(
        "UserError run_sync() cannot run while this orchestrator has runs under way on the notebook"
    ), said
    assert "another thread" not in said and "`await` those runs first (`await task`)" in said
    assert "then: completed completed" in cells[2].text, cells[2].text
