"""What an orchestrator's SQLite store leaves behind: nothing once `close()` has returned (a process forked then opens
the file afresh), and nothing once an orchestrator dropped without `close()` has been collected (its store's threads
end, its connections close, its lease keeper does not keep it alive)."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from orchestratex.stores import SQLiteStore
from orchestratex.stores.sqlite import _checkpoint

from .test_threads_and_forks import in_forked_child, needs_fork, orchestrator

pytestmark = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")  # (3.12+)


class _SlowConnection:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str) -> sqlite3.Cursor:
        time.sleep(0.3)
        return self._conn.execute(sql)

    def close(self) -> None:
        self._conn.close()


class _SlowCheckpoints:
    """`sqlite3` as the checkpoint thread sees it: each checkpoint takes 0.3 s (a slow disk), its connection open."""

    Error = sqlite3.Error

    @staticmethod
    def connect(*args: Any, **kwargs: Any) -> _SlowConnection:
        return _SlowConnection(sqlite3.connect(*args, **kwargs))


@pytest.fixture
def slow_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_checkpoint, "sqlite3", _SlowCheckpoints)


def store_threads(path: Path) -> list[str]:
    return [t.name for t in threading.enumerate() if str(path) in t.name]


def open_files(path: Path) -> list[str]:
    """The descriptors of this process open on the database's files (`path`, its `-wal`, its `-shm`)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # (the descriptor listdir itself used)
            continue
        if target.startswith(str(path)):
            found.append(target)
    return found


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc/self/fd")


@needs_fork
@needs_proc
@pytest.mark.usefixtures("slow_checkpoints")
def test_close_leaves_no_thread_nor_connection_of_the_store_and_a_forked_child_runs(tmp_path: Path) -> None:
    db = tmp_path / "close.db"
    orch = orchestrator(f"sqlite:///{db}")
    assert orch.run_sync("In the parent").status == "completed"
    time.sleep(0.1)  # (the checkpoint thread is in a checkpoint now)
    orch.close()
    assert store_threads(db) == []
    assert open_files(db) == []  # (not the log's removal: two connections closing at once may both leave it)
    assert in_forked_child(orch, "run_sync") == "ran: completed"
    assert in_forked_child(orch, "run") == "ran: completed"
    assert orch.run_sync("The parent again").status == "completed"
    orch.close()


@pytest.mark.usefixtures("slow_checkpoints")
async def test_a_closed_sqlite_store_has_no_thread_left(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "store.db")
    await store.open()
    await store.ping()
    await asyncio.sleep(0.1)
    assert len(store_threads(tmp_path)) == 3  # writer's worker, reader, checkpoints
    await store.close()
    assert store_threads(tmp_path) == []


def _close_in_child(orch: Any, conn: Any) -> None:
    async def close_and_reopen() -> str:
        await asyncio.wait_for(orch.aclose(), 30)  # (it waited forever for the parent's worker thread)
        store = SQLiteStore(orch.store.path)  # the child opens the file afresh
        async with store:
            return f"closed; counter {await store.incr('child')}"

    try:
        conn.send(asyncio.run(close_and_reopen()))
    except BaseException as exc:
        conn.send(f"{type(exc).__name__}: {exc}")
    conn.close()


@needs_fork
def test_a_forked_child_closes_the_orchestrator_and_store_its_parent_opened_without_waiting(tmp_path: Path) -> None:
    import multiprocessing

    orch = orchestrator(f"sqlite:///{tmp_path / 'inherited.db'}")
    assert orch.run_sync("In the parent").status == "completed"
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_close_in_child, args=(orch, sender))
    child.start()
    try:
        assert receiver.poll(60), "the child got no answer"
        assert receiver.recv() == "closed; counter 1"
    finally:
        child.kill()
        child.join(5)
    assert orch.run_sync("The parent goes on").status == "completed"  # its connections were left alone
    orch.close()


def ours_left(started: set[threading.Thread], db: Path, within_s: float) -> list[str]:
    """The names of the threads `started` (by identity) and of the store of `db` still alive once none is (or when
    `within_s` has passed), collecting garbage meanwhile: other tests' threads, ending or starting, are not counted."""
    deadline = time.monotonic() + within_s
    while True:
        gc.collect()
        left = sorted({t.name for t in started if t.is_alive()} | set(store_threads(db)))
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


@needs_proc
def test_orchestrators_dropped_without_close_leave_no_thread_behind(tmp_path: Path) -> None:
    """In a process of its own: in the full suite (threads of other tests starting and ending, gigabytes of their
    garbage for each collection to walk) it failed now and then, though never alone; what is checked is only what
    these orchestrators leave behind."""
    db = tmp_path / "dropped.db"
    script = textwrap.dedent(f"""
        import json, threading
        from pathlib import Path
        from orchestratex.orchestrator._portal import RUN_SYNC_THREAD
        from tests.orchestrator.test_store_lifecycle import open_files, ours_left
        from tests.orchestrator.test_threads_and_forks import orchestrator
        db = Path({str(db)!r})
        before = set(threading.enumerate())
        started = set()
        for i in range(10):
            orch = orchestrator(f"sqlite:///{{db}}")
            assert orch.run_sync(f"Question {{i}}").status == "completed"
            started |= {{t for t in threading.enumerate() if t not in before}}
            del orch
        print(json.dumps({{
            "run_sync": any(t.name == RUN_SYNC_THREAD for t in started),
            "store": any(str(db) in t.name for t in started),
            "left": ours_left(started, db, within_s=60),
            "open": open_files(db),
        }}))
    """)
    root = Path(__file__).parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["run_sync"] and found["store"], found  # (each run_sync's loop thread, and the store's)
    assert found["left"] == [], found
    assert found["open"] == [], found  # every connection closed


def test_orchestrators_dropped_without_close_leave_nothing_in_a_process_that_exits_promptly(tmp_path: Path) -> None:
    db = tmp_path / "process.db"
    script = textwrap.dedent(f"""
        import gc, threading, time
        from tests.orchestrator.test_threads_and_forks import orchestrator
        before = threading.active_count()
        for i in range(10):
            orchestrator({f"sqlite:///{db}"!r}).run_sync(f"Question {{i}}")
        deadline = time.monotonic() + 30
        while threading.active_count() > before and time.monotonic() < deadline:
            gc.collect()
            time.sleep(0.02)
        print(before, threading.active_count())
    """)
    root = Path(__file__).parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    before, after = map(int, done.stdout.split())
    assert after == before, done.stdout
    assert time.monotonic() - started < 60  # (an exit waiting for a thread would wait out the timeout)


async def test_the_lease_keeper_ends_when_the_last_run_ends_not_at_its_next_renewal() -> None:
    orch = orchestrator()
    assert orch.lease_ttl_s / 3 >= 10  # (the keeper would sleep that long before noticing)
    assert (await orch.run("A question")).status == "completed"
    await asyncio.sleep(0)  # (the keeper's cancellation is delivered)
    task = orch._leases._task
    assert task is None or task.done()
    await orch.aclose()


def test_an_orchestrator_closed_and_run_again_after_a_chdir_keeps_its_store_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `Orchestrator(store="sqlite:///runs.db")` closed, then run again after `%cd` in a notebook (or `os.chdir`), opened
    # a new, empty runs.db in the new working directory: the runs made before were NotFound, and the runs after went
    # to another file
    from orchestratex import Orchestrator, SimulatedProvider

    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    monkeypatch.chdir(tmp_path / "first")
    o = Orchestrator(providers=[SimulatedProvider(latency_scale=0)], store="sqlite:///runs.db")
    before = o.run_sync("Hello", max_iterations=1)
    o.close()
    monkeypatch.chdir(tmp_path / "second")
    after = o.run_sync("Hello again", max_iterations=1)
    o.close()
    assert not (tmp_path / "second" / "runs.db").exists()
    with sqlite3.connect(tmp_path / "first" / "runs.db") as db:
        ids = {row[0] for row in db.execute("SELECT id FROM orchestrations")}
    assert {before.id, after.id} <= ids


@pytest.mark.parametrize("first_to_close", ["maker", "sharer"])
def test_a_store_made_from_a_url_and_handed_to_another_orchestrator_is_closed_by_the_last_to_close(
    tmp_path: Path, first_to_close: str
) -> None:
    # `Orchestrator(store=first.store)` shares the store `first` made from its URL: `first.close()` closed it under the
    # second, whose every later run failed with "SQLiteStore('runs.db') is not open" (it never opened it again)
    db = tmp_path / "runs.db"
    maker = orchestrator(f"sqlite:///{db}")
    assert maker.run_sync("First").status == "completed"
    sharer = orchestrator()
    sharer.store = maker.store  # (as `Orchestrator(store=maker.store)`)
    assert sharer.run_sync("Second").status == "completed"
    first, last = (maker, sharer) if first_to_close == "maker" else (sharer, maker)
    first.close()
    assert last.run_sync("After the other closed").status == "completed"
    assert first.run_sync("Closed, then run again").status == "completed"
    first.close()
    assert last.run_sync("Still open").status == "completed"
    last.close()
    assert store_threads(db) == []  # the last to close closed it
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM orchestrations").fetchone() == (5,)
