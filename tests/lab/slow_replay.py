"""A replay long enough for the progress display (a slow router over 60 prompts, ~1.6 s), run as a process or a
notebook cell by `test_lab_progress.py`: the summary goes to stdout, the progress (if any) to stderr.

`python slow_replay.py [none|true|false]` sets `progress=`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence

import numpy as np

from orchestratex import lab
from orchestratex.catalog import ModelProfile
from orchestratex.records import RoutingDecision
from orchestratex.routing import Router, Task

SLOW_ROWS, SLOW_SECONDS = 60, 0.025


class SlowRouter(Router):
    """Always the first candidate, after a pause: a router that takes its time."""

    name = "slow"

    async def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        time.sleep(SLOW_SECONDS)
        return RoutingDecision(model_name=candidates[0].name, reasoning="slow", scores={}, domain=task.domain)


async def slow_replay(progress: bool | None = None) -> lab.LoopReplay:
    table = lab.OutcomeTable(
        name="slow",
        models=("cheap", "strong"),
        prompts=tuple(f"question {i}" for i in range(SLOW_ROWS)),
        quality=np.tile([1.0, 1.0], (SLOW_ROWS, 1)),
        cost=np.tile([0.0001, 0.001], (SLOW_ROWS, 1)),
    )
    return await lab.replay_loop(table, router=SlowRouter(), max_iterations=1, progress=progress)


if __name__ == "__main__":
    option = {"none": None, "true": True, "false": False}[sys.argv[1] if len(sys.argv) > 1 else "none"]
    print(asyncio.run(slow_replay(option)).summary())
