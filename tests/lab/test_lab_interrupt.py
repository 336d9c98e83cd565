"""Ctrl-C stops a lab replay under `asyncio.run` at the next prompt, not at the end of the table: a replay whose
runs complete without waiting on anything (the lab's providers and store answer at once) yields to the event loop
between prompts, so the cancellation `asyncio.run` makes of a SIGINT reaches it, and other tasks get their turn."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from orchestratex import lab
from orchestratex.routing.fitted import FittedRouter

from .lab_synthetic import synthetic_table
from .long_replay import ROWS

HERE = Path(__file__).parent
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(Path(lab.__file__).parents[2]), os.environ.get("PYTHONPATH", "")]),
}


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a process")
@pytest.mark.parametrize("kind", ["loop", "replay"])
def test_ctrl_c_stops_a_replay_at_the_next_prompt(kind: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "long_replay.py"), kind],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the replay is under way
    assert first.startswith("done "), first
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    counts = [int(line.split()[1]) for line in [first, *out.splitlines()] if line.startswith("done ")]
    assert proc.returncode != 0 and "KeyboardInterrupt" in err, err[-2000:]
    assert "finished" not in out
    assert counts[-1] < ROWS[kind], f"the replay ran to its end ({counts[-1]} prompts) before Ctrl-C stopped it"


def test_other_tasks_run_while_a_replay_runs() -> None:
    table = synthetic_table(300)
    router = FittedRouter(text=False, cost_weight=10).fit(table)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def main() -> tuple[int, int]:
        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        start = ticks
        await lab.replay_loop(table, router=router, max_iterations=1, progress=False)
        looped = ticks - start
        start = ticks
        await lab.replay(router, table, lab.profiles_for(table), progress=False)
        replayed = ticks - start
        task.cancel()
        return looped, replayed

    looped, replayed = asyncio.run(main())
    assert looped >= len(table) and replayed >= len(table), (looped, replayed)
