"""A replay of many quick prompts (each run completes without waiting on anything), run as a process by
`test_lab_interrupt.py`: it prints `done N` every 50 prompts on stdout, so a test can interrupt it mid-way.

`python long_replay.py loop|replay` runs `lab.replay_loop` or `lab.replay` under `asyncio.run`.
"""

from __future__ import annotations

import asyncio
import sys

import numpy as np

from orchestratex import lab
from orchestratex.routing.fitted import FittedRouter

ROWS = {"loop": 6000, "replay": 200_000}
"""The prompts of each kind's table: `replay` is quicker by far (6,000 took 0.3 s, which a loaded runner's pause of
the test between the first `done` and its Ctrl-C outlasted: the replay ran to its end); each takes 8-10 s here."""
FITTED_ON = 6000
"""The prompts the router is fitted on (the first of the table's)."""


def _table(rows: int) -> lab.OutcomeTable:
    rng = np.random.default_rng(0)
    return lab.OutcomeTable(
        name="long",
        models=("cheap", "strong"),
        prompts=tuple(f"question {i}" for i in range(rows)),
        quality=(rng.random((rows, 2)) < [0.6, 0.9]).astype(float),
        cost=np.tile([0.0001, 0.001], (rows, 1)),
    )


def main(kind: str) -> None:
    table = _table(ROWS[kind])
    fitted_on = _table(FITTED_ON)
    router = FittedRouter(text=False, cost_weight=10).fit(fitted_on)
    if kind == "loop":

        def progress(done: int, total: int, partial: lab.LoopReplay) -> None:
            print(f"done {done}", flush=True)

        coro = lab.replay_loop(table, router=router, max_iterations=2, progress=progress, progress_every=50)
        asyncio.run(coro)
    else:

        class Counting(FittedRouter):
            async def observe(self, feedback: object) -> None:
                self.seen = getattr(self, "seen", 0) + 1
                if self.seen % 50 == 0:
                    print(f"done {self.seen}", flush=True)

        counting = Counting(text=False, cost_weight=10).fit(fitted_on)
        asyncio.run(lab.replay(counting, table, lab.profiles_for(table)))
    print("finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
