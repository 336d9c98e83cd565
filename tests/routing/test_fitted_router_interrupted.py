"""Ctrl-C during `FittedRouter.fit` leaves the router as it was: a notebook's router refitted on a bigger table and
interrupted still routes (and saves) as its earlier fit did, and one never fitted stays unfitted."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from orchestratex import Orchestrator
from orchestratex.exceptions import UserError
from orchestratex.lab import OutcomeTable
from orchestratex.routing.fitted import FittedRouter, TextFeaturizer
from orchestratex.stores.memory import MemoryStore

from ..lab.lab_synthetic import synthetic_table

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to the process")


class CtrlCAt(TextFeaturizer):
    """A featurizer during whose work the user presses Ctrl-C: a real SIGINT, at the `at`-th prompt read."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.read = at, 0

    def counts(self, text: str) -> dict[int, float]:
        self.read += 1
        if self.read == self.at:
            signal.raise_signal(signal.SIGINT)  # Python's handler: KeyboardInterrupt, here
        return super().counts(text)


def _other_table() -> OutcomeTable:
    n = 200
    return OutcomeTable(
        name="other",
        models=("x", "y"),
        prompts=tuple(f"other question {i}" for i in range(n)),
        quality=np.tile([0.2, 0.9], (n, 1)),
        cost=np.tile([0.001, 0.002], (n, 1)),
    )


def test_an_interrupted_refit_leaves_the_earlier_fit(tmp_path: Path) -> None:
    table = synthetic_table(120)
    router = FittedRouter(cost_weight=10, featurizer=CtrlCAt(at=10**9)).fit(table)
    prompt = "Question 7.\n\nprove the theorem about primes"
    before = router.predict_quality(prompt, "proofs")
    router.featurizer.at, router.featurizer.read = 150, 0  # type: ignore[attr-defined]
    with pytest.raises(KeyboardInterrupt):
        router.fit(_other_table())
    # before: the router held the other table's models and means with no regression, and saved that
    assert router.models == table.models
    np.testing.assert_array_equal(router.predict_quality(prompt, "proofs"), before)
    again = FittedRouter.load(router.save(tmp_path / "router.npz"))
    assert again.models == table.models
    np.testing.assert_allclose(again.predict_quality(prompt, "proofs"), before)


def test_an_interrupted_first_fit_leaves_the_router_unfitted() -> None:
    router = FittedRouter(featurizer=CtrlCAt(at=50))
    with pytest.raises(KeyboardInterrupt):
        router.fit(synthetic_table(120))
    assert not router.fitted  # before: fitted, on the domain means alone, and an orchestrator took it

    async def open_orchestrator() -> None:
        async with Orchestrator(router=router, store=MemoryStore(), simulate=True):
            pass

    with pytest.raises(UserError, match=r"this FittedRouter is not fitted"):
        asyncio.run(open_orchestrator())
