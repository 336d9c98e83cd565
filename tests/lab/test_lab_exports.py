from __future__ import annotations

import subprocess
import sys

import orchestratex.lab as lab


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(lab) if not name.startswith("_")} - {"annotations"}
    assert len(lab.__all__) == len(set(lab.__all__))
    assert set(lab.__all__) == public


def test_core_import_does_not_load_numpy_or_sklearn() -> None:
    code = "import sys, orchestratex; print(any(m in sys.modules for m in ('numpy', 'sklearn', 'matplotlib')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
