"""A run `prepare` stored is leased to the preparing orchestrator for `lease_ttl_s`, once (not renewed): another process
on the same store (a server, a worker calling `resume_pending`) whose resume pass falls between the application's
`prepare` and its `start` leaves the run to that `start`; once the grace is over (the application never started it,
died, or closed), that process takes it. The worker here is a second process on the same SQLite file."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest

from orchestratex import MemoryStore, Orchestrator, SimulatedProvider, SQLiteStore
from orchestratex.exceptions import Conflict
from orchestratex.stores import Store

TTL = 30.0
"""The grace of a prepared run here: far longer than any test takes to start the run it prepared."""

_WORKER = """
import asyncio, json, sys, time
from orchestratex import Orchestrator, SimulatedProvider, SQLiteStore

async def main(path):
    provider = SimulatedProvider(seed=1, latency_scale=0)
    async with Orchestrator(providers=[provider], store=SQLiteStore(path), lease_ttl_s=30) as worker:
        print("ready", flush=True)
        for line in sys.stdin:
            wanted = line.strip()  # an id: resume until that run is among those resumed (at most 60 s)
            deadline = time.monotonic() + 60
            while True:
                results = await worker.resume_pending()
                ids = [r.orchestration.id for r in results]
                if not wanted or wanted in ids or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            print(json.dumps([[r.orchestration.id, r.status] for r in results]), flush=True)

asyncio.run(main(sys.argv[1]))
"""

_PREPARER = """
import asyncio, sys
from orchestratex import Orchestrator, SimulatedProvider, SQLiteStore

async def main(path):
    provider = SimulatedProvider(seed=1, latency_scale=0)
    orch = Orchestrator(providers=[provider], store=SQLiteStore(path), lease_ttl_s=float(sys.argv[2]))
    doc = await orch.prepare("Explain how a hash map handles collisions", max_iterations=1)
    print(doc.id, flush=True)
    await asyncio.sleep(3600)  # about to start it: killed first

asyncio.run(main(sys.argv[1]))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


class _Worker:
    """A second process on the SQLite file, whose orchestrator resumes runs when asked (`resume`)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    async def resume(self, until: str = "") -> list[list[str]]:
        """Its `resume_pending()`: the ids and statuses of the runs it resumed (with `until`, the pass that resumed
        that run, polled for at most 60 s)."""
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        stdin.write(until + "\n")
        stdin.flush()
        line = await asyncio.to_thread(stdout.readline)
        assert line, "the worker process died"
        resumed: list[list[str]] = json.loads(line)
        return resumed


@contextmanager
def _worker(db: Path) -> Iterator[_Worker]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WORKER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield _Worker(proc)
    finally:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        proc.wait(60)
        proc.stdout.close()


def _orchestrator(store: Store | Path, ttl: float = TTL) -> Orchestrator:
    return Orchestrator(
        providers=[SimulatedProvider(seed=1, latency_scale=0)],
        store=SQLiteStore(store) if isinstance(store, Path) else store,
        lease_ttl_s=ttl,
    )


@asynccontextmanager
async def _pair(kind: str, tmp_path: Path) -> AsyncIterator[tuple[Orchestrator, Orchestrator]]:
    """An application's orchestrator and another process's (a server's, a worker's) on one store."""
    if kind == "sqlite":
        async with _orchestrator(tmp_path / "shared.db") as app, _orchestrator(tmp_path / "shared.db") as other:
            yield app, other
    else:
        async with _orchestrator(MemoryStore()) as app:
            async with _orchestrator(app.store) as other:
                yield app, other


async def test_a_worker_process_leaves_a_just_prepared_run_to_the_application_that_starts_it(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    async with _orchestrator(db) as app:
        doc = await app.prepare("Explain TCP slow start", max_iterations=1)
        with _worker(db) as worker:
            assert await worker.resume() == []  # (it ran the run as "left by a stopped process")
            result = await app.start(doc)
            assert result.status == "completed"
            assert await worker.resume() == []


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_a_resume_pass_between_prepare_and_drive_leaves_the_run_to_its_orchestrator(
    kind: str, tmp_path: Path
) -> None:
    async with _pair(kind, tmp_path) as (app, other):
        doc = await app.prepare("Explain TCP slow start", max_iterations=1)
        assert await other.resume_pending() == []
        with pytest.raises(Conflict, match="just prepared by another orchestrator, whose start"):
            await other.drive(doc.id)
        assert (await app.drive(doc.id)).status == "completed"
        assert await other.resume_pending() == []


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_the_preparing_orchestrator_resumes_and_cancels_its_prepared_runs(kind: str, tmp_path: Path) -> None:
    async with _pair(kind, tmp_path) as (app, other):
        first = await app.prepare("Explain TCP slow start", max_iterations=1)
        second = await app.prepare("Explain TCP fast retransmit", max_iterations=1)
        assert await app.cancel(second.id)
        (resumed,) = await app.resume_pending()  # (not listed by the store: leased to `app`)
        assert resumed.orchestration.id == first.id
        assert resumed.status == "completed"
        assert await other.resume_pending() == []
        assert (await other.store.get_orchestration(second.id)).status == "cancelled"


async def test_a_prepared_run_left_by_a_closed_orchestrator_is_resumed_by_the_worker_at_once(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    async with _orchestrator(db) as app:
        doc = await app.prepare("Explain TCP slow start", max_iterations=1)
    with _worker(db) as worker:
        assert await worker.resume() == [[doc.id, "completed"]]


async def test_a_prepared_run_nobody_starts_is_taken_by_the_worker_once_its_grace_is_over(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    async with _orchestrator(db, ttl=2.0) as app:
        doc = await app.prepare("Explain TCP slow start", max_iterations=1)
        with _worker(db) as worker:
            assert await worker.resume(until=doc.id) == [[doc.id, "completed"]]
        assert await app.resume_pending() == []  # (no longer held for it: the worker ran it)


async def test_a_prepared_run_whose_process_was_killed_is_resumed_once_its_grace_is_over(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    child = subprocess.Popen(
        [sys.executable, "-c", _PREPARER, str(db), "2"], stdout=subprocess.PIPE, text=True, env=_env()
    )
    assert child.stdout is not None
    oid = child.stdout.readline().strip()
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    assert len(oid) == 24, f"the child did not prepare: {oid!r}"
    with _worker(db) as worker:
        assert await worker.resume(until=oid) == [[oid, "completed"]]
