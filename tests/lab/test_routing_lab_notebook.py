"""`examples/routing_lab.ipynb` runs top to bottom in this interpreter (skipped without the routing data)."""

from __future__ import annotations

import platform
import sys

import pytest

import orchestratex
from orchestratex import lab

from .lab_data import DATA, ROOT

NOTEBOOK = ROOT / "examples" / "routing_lab.ipynb"


@pytest.mark.skipif(
    not (DATA / "routerbench").is_dir(), reason=f"routing data not found at {DATA}: set {lab.DATA_ENV} to run it"
)
def test_routing_lab_notebook_executes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATEX_NOTEBOOK_SUBSET", "120")  # the loop replays a slice of test: quick
    monkeypatch.setenv(lab.DATA_ENV, str(DATA))
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("matplotlib")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # the kernel is this interpreter: asked here (the notebook prints no path of this machine into its outputs)
    nb.cells.append(nbformat.v4.new_code_cell("import sys\nprint('interpreter:', sys.prefix)"))
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(ROOT / "examples")}}
    )
    client.execute()
    text = "\n".join(
        out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    )
    assert f"interpreter: {sys.prefix}" in text
    assert f"Python {platform.python_version()}, orchestratex {orchestratex.__version__}" in text
    assert "AIQ oracle" in text and "AIQ fitted" in text
    # every knob reported is chosen on train (by CV), then scored on test
    assert "train CV, 3 iterations: w=4 accuracy" in text
    assert "test, 3 iterations, <= $0.0015: w=" in text and "chosen on train -> accuracy" in text
    assert "fitted    <= $0.0020: w=13.73 chosen on train -> test" in text
    images = [out for cell in nb.cells for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
    assert images, "the notebook drew no plot"
