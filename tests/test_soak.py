"""Soak: two processes drive orchestrations on one SQLite store for a while under random faults — a third
process grabbing the write lock, I/O errors and a full disk inside transactions, provider errors, overbilling,
cancellations, timeouts and one SIGKILL — then the ledger identity must hold for every session.

Short by default (CI); `ORCHESTRATEX_SOAK_SECONDS=45 pytest tests/test_soak.py -s` for a longer run. The
figures (faults injected, runs, requests) are printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from orchestratex import Orchestrator, SimulatedProvider, SQLiteStore
from orchestratex.records import Session, SessionSettings

from .ledger import ledger_problems
from .orchestrator.faults import LockHolder

WORKER = Path(__file__).with_name("soak_worker.py")
SECONDS = float(os.environ.get("ORCHESTRATEX_SOAK_SECONDS", "8"))


def _spawn(db: Path, seed: int, sessions: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    args = [sys.executable, str(WORKER), str(db), str(SECONDS), str(seed), *sessions]
    with db.with_name(f"worker{seed}.log").open("w") as log:  # its warnings (retries, overages), read on failure
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True, env=env)


@pytest.mark.slow
@pytest.mark.soak
async def test_two_processes_under_random_faults_keep_the_ledger(tmp_path: Path) -> None:
    db = tmp_path / "soak.db"
    rng = random.Random(14)
    async with SQLiteStore(db) as store:
        sessions = [
            await store.create_session(
                Session(user_id=f"user{i}", settings=SessionSettings(cost_limit=None if i == 0 else 0.3 * i))
            )
            for i in range(4)
        ]
    ids = [s.id for s in sessions]
    workers = [_spawn(db, 1, ids), _spawn(db, 2, ids)]
    holder, locks = LockHolder(db), 0
    started = time.monotonic()
    killed = False
    while any(w.poll() is None for w in workers):  # a third process takes the write lock now and then
        await asyncio.sleep(rng.uniform(0.2, 1.0))
        if time.monotonic() - started > SECONDS:
            continue
        if not killed and time.monotonic() - started > 0.6 * SECONDS:
            workers[1].send_signal(signal.SIGKILL)  # its runs are resumed by the survivor or the final pass
            killed = True
        await asyncio.to_thread(holder.start)
        locks += 1
        await asyncio.sleep(rng.uniform(0.05, 0.5))  # past the workers' 50 ms busy timeout
        await asyncio.to_thread(holder.stop)
    counts: Counter[str] = Counter()
    for seed, w in enumerate(workers, 1):
        w.communicate(timeout=60)
        log = db.with_name(f"worker{seed}.log").read_text()
        assert w.returncode in (0, -signal.SIGKILL), f"a soak worker failed ({w.returncode}): {log[-3000:]}"
        report = db.with_name(f"counts{seed}.json")  # the killed one's last report
        if report.exists():
            counts.update(json.loads(report.read_text()))

    await asyncio.sleep(1.1)  # every lease of the dead process expires: the recovery pass resumes its runs
    store = SQLiteStore(db)
    async with Orchestrator(providers=[SimulatedProvider(seed=9, latency_scale=0)], store=store) as orch:
        recovered = len(await orch.resume_pending(limit=10_000))
        problems = {sid: await ledger_problems(store, sid) for sid in ids}
        orchestrations = [o for sid in ids for o in await store.list_orchestrations(session_id=sid, limit=100_000)]
        statuses = Counter(o.status for o in orchestrations)
        totals = {sid: (await store.get_session(sid)).total_cost for sid in ids}
    print(
        f"\nsoak {SECONDS:.0f}s: {dict(counts)}, lock grabs by a third process {locks}, recovered {recovered},"
        f" orchestrations {dict(statuses)}, session totals {totals}"
    )
    broken = [p for ps in problems.values() for p in ps]
    assert not broken, "\n".join(broken)
    assert counts["runs"] > 0 and counts["requests"] > 0
    assert statuses["pending"] + statuses["running"] == 0  # the recovery pass ended every run
    for s in sessions[1:]:  # a limit is kept up to the overage providers reported beyond their bounds
        over = sum(o.overage_cost for o in orchestrations if o.session_id == s.id)
        assert s.settings.cost_limit is not None and totals[s.id] <= s.settings.cost_limit + over + 1e-9
