"""A kernel interrupt stops `run_sync` in a Jupyter cell that also awaits something: the cell ends with
`KeyboardInterrupt`, the stored run is `cancelled` saying it was interrupted, and the next runs in the kernel work."""

from __future__ import annotations

from pathlib import Path

import pytest

from .kernel_cells import run_cells

SETUP = """
from orchestratex import Orchestrator
orch = Orchestrator(simulate=True, store="sqlite:///runs.db")
sim = orch.providers["sim"]
sim.latency_scale = 0
ids = []
orch.handlers = [lambda event: ids.append(event.orchestration_id)]
"""


def test_an_interrupt_stops_run_sync_in_a_cell_that_awaits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Such a cell runs as a coroutine on the kernel's loop, and the kernel turns SIGINT into a callback on that loop,
    which `run_sync` blocks: the interrupt was lost, the run went on to its end (and its cost) and the cell printed
    its result."""
    cells = run_cells(
        [
            SETUP,
            """
await orch.run("Warm up", max_iterations=1)
sim.latency_scale = 5  # the run takes tens of seconds: it is interrupted after 3 s
result = orch.run_sync("Explain TCP slow start", max_iterations=3, evaluation_threshold=10)
print("run_sync returned:", result.status)
# interrupted after 3 s
""",
            """
sim.latency_scale = 0
stored = await orch.store.get_orchestration(ids[-1])
print("stored:", stored.prompt, stored.status, stored.error)
print("then:", orch.run_sync("And now?", max_iterations=1).status, (await orch.run("Again", max_iterations=1)).status)
""",
        ],
        tmp_path,
        monkeypatch,
    )
    assert cells[1].errors == ["KeyboardInterrupt"], cells[1].text
    assert "run_sync returned" not in cells[1].text
    assert "stored: Explain TCP slow start cancelled interrupted (KeyboardInterrupt" in cells[2].text, cells[2].text
    assert "then: completed completed" in cells[2].text


def test_a_run_sync_interrupted_in_a_cell_says_so_where_it_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was stored `cancelled` with "the orchestration was cancelled", as if `cancel(id)` had stopped it."""
    cells = run_cells(
        [
            SETUP,
            """
sim.latency_scale = 100  # every answer takes minutes
orch.run_sync("Explain UDP", max_iterations=3)
# interrupted after 3 s
""",
            """
stored = await orch.store.get_orchestration(ids[-1])
print("stored:", stored.status, stored.error)
last = (await orch.store.list_events(stored.session_id))[-1]
print("event:", last.type, last.error == stored.error)
""",
        ],
        tmp_path,
        monkeypatch,
    )
    assert cells[1].errors == ["KeyboardInterrupt"], cells[1].text
    expected = (
        "stored: cancelled interrupted (KeyboardInterrupt: Ctrl-C, or a kernel interrupt in Jupyter) as run_sync()"
    )
    assert expected in cells[2].text, cells[2].text
    assert "event: orchestration_failed True" in cells[2].text
