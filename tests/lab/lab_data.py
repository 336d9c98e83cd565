"""Where the tests find the shared routing data: `$ORCHESTRATEX_DATA_DIR`, else `../shared/data/routing` next to the
repository (a convention of this repository's tests and benchmarks only; the library assumes no layout)."""

from __future__ import annotations

import os
from pathlib import Path

from orchestratex import lab

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get(lab.DATA_ENV) or ROOT.parent / "shared" / "data" / "routing")
HAVE_DATA = (DATA / "routerbench").is_dir()
