"""Cells run in a real Jupyter kernel, as a user runs them (skipped without nbclient and ipykernel)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import orchestratex

__all__ = ["Cell", "run_cells"]

INTERRUPT = "# interrupted after "
"""A cell holding `# interrupted after N s` is interrupted (`KernelManager.interrupt_kernel()`) N seconds in."""


@dataclass
class Cell:
    """What one cell showed."""

    outputs: list[dict[str, Any]]

    @property
    def text(self) -> str:
        """Its printed text (stdout and stderr) and the plain text of its results."""
        return "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in self.outputs)

    @property
    def stderr(self) -> str:
        return "".join(o["text"] for o in self.outputs if o.get("name") == "stderr")

    @property
    def errors(self) -> list[str]:
        """The names of the exceptions it ended with."""
        return [o["ename"] for o in self.outputs if o["output_type"] == "error"]


def run_cells(cells: list[str], path: Path, monkeypatch: pytest.MonkeyPatch, timeout: int = 60) -> list[Cell]:
    """Run `cells` one after another in one kernel working in `path`, and what each showed."""
    # the kernel imports the orchestratex under test
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(orchestratex.__file__).parents[1]), *sys.path]))
    nbformat: Any = pytest.importorskip("nbformat")
    nbclient: Any = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")

    def timeout_of(cell: Any) -> int:
        source: str = cell.source
        if INTERRUPT in source:
            return int(source.split(INTERRUPT)[1].split()[0])
        return timeout

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c.strip()) for c in cells])
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=timeout,
        timeout_func=timeout_of,
        interrupt_on_timeout=True,
        allow_errors=True,
        resources={"metadata": {"path": str(path)}},
    )
    client.execute()
    return [Cell(cell.get("outputs", [])) for cell in nb.cells]
