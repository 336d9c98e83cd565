"""`run_stream` read as synchronous code in a Jupyter cell (`for item in ...`, `with ...`): a `UserError` saying how
to read it, no run started; the same cell written with `async with` and `async for` then streams (skipped without
nbclient and ipykernel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .kernel_cells import run_cells


def test_a_stream_read_without_async_says_how_to_read_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python said only "'RunStream' object is not iterable" (and "does not support the context manager protocol")."""
    cells = run_cells(
        [
            """
from orchestratex import AnswerDelta, Orchestrator
orch = Orchestrator(simulate=True, store="sqlite:///runs.db")
orch.providers["sim"].latency_scale = 0
for item in orch.run_stream("Explain TCP slow start", max_iterations=1):
    print(item)
""",
            """
with orch.run_stream("Explain TCP slow start", max_iterations=1) as stream:
    pass
""",
            """
async with orch.run_stream("Explain TCP slow start", max_iterations=1) as stream:
    deltas = [item async for item in stream if isinstance(item, AnswerDelta)]
print("streamed:", bool(deltas), stream.result.status)
print("stored:", len(await orch.store.list_orchestrations()))  # that run alone: the refused ones never started
""",
        ],
        tmp_path,
        monkeypatch,
    )
    for cell, written in ((cells[0], "for item in"), (cells[1], "with")):
        assert cell.errors == ["UserError"], cell.text
        said = "".join(o.get("evalue", "") for o in cell.outputs)
        assert f"a stream is read asynchronously, not with `{written} orchestrator.run_stream(...)`" in said, said
        assert "`async with orchestrator.run_stream(...) as stream:` then `async for item in stream:`" in said, said
    assert "stored: 1" in cells[2].text and "streamed: True completed" in cells[2].text, cells[2].text
