"""A first `FittedRouter.fit` in a fresh process whose import of scikit-learn takes 2.5 s (a cold start from a slow
disk, as the first fit's 1.5 s import is on an ordinary one): `python slow_import_fit.py`, stderr piped, progress=True.
"""

from __future__ import annotations

import importlib.abc
import sys
import time


class SlowSklearn(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name == "sklearn.linear_model":
            time.sleep(2.5)
        return None  # (the usual finders then import it)


sys.meta_path.insert(0, SlowSklearn())

import numpy as np  # noqa: E402

from orchestratex import lab  # noqa: E402
from orchestratex.routing.fitted import FittedRouter  # noqa: E402

n = 40
table = lab.OutcomeTable(
    name="synthetic",
    models=("small", "large"),
    prompts=tuple(f"question {i} about {'primes' if i % 3 else 'the sky'}" for i in range(n)),
    quality=np.asarray([[float(i % 3 == 0), 1.0] for i in range(n)]),
    cost=np.tile([0.0001, 0.01], (n, 1)),
)
FittedRouter(alpha=1.0).fit(table, progress=True)
