"""A program whose `asyncio.run` ends (its own error) with orchestrations still in flight: the event loop's shutdown
cancels every task, and every run ends `cancelled`, its writes neither lost nor repeated, nothing left reserved."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestratex import SQLiteStore

CHILD = Path(__file__).with_name("shutdown_child.py")


def _child(where: str, runs: int, after_s: float, lock_s: float = 0.0) -> tuple[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(CHILD), where, str(runs), str(after_s), str(lock_s)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    # the program's own error, once, and nothing from the runs
    assert done.stderr.count("Traceback") == 1 and "RuntimeError: the program's own error" in done.stderr, done.stderr
    assert "unhandled exception" not in done.stderr and "never retrieved" not in done.stderr, done.stderr
    return done.stdout.strip(), done.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("after_s", "lock_s"),
    [
        (0.0, 0.0),  # routing and storing their starts
        (0.05, 0.0),
        (0.3, 0.0),  # in their first call, or later
        (0.1, 1.0),  # their starts waiting, in the store's worker thread, for a lock another connection holds
    ],
)
async def test_every_run_in_flight_ends_cancelled_and_holds_nothing(
    tmp_path: Path, after_s: float, lock_s: float
) -> None:
    db = tmp_path / "runs.db"
    session_id, _ = _child(str(db), 200, after_s, lock_s)
    async with SQLiteStore(db) as store:
        session = await store.get_session(session_id)
        runs = await store.list_orchestrations(session_id=session_id, limit=1000)
        assert len(runs) == 200
        assert {o.status for o in runs} == {"cancelled"}
        assert session.reserved_cost == 0
        assert session.total_cost == pytest.approx(sum(o.total_cost for o in runs), abs=1e-12)


@pytest.mark.slow
def test_with_the_memory_store_the_runs_end_quietly_too() -> None:
    _child("memory", 200, 0.0)
