"""One orchestrator in a threaded or forking application: `run_sync` from many threads; a run on a second event loop
while runs are under way on another is refused; a process forked after the orchestrator ran refuses it (instead of
waiting forever for the parent's loop thread) unless it was closed before the fork."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from orchestratex import FunctionProvider, GenerationRequest, Orchestrator, UserError
from orchestratex._ids import forks

from ..helpers import catalog

needs_fork = pytest.mark.skipif(sys.platform == "win32" or not hasattr(os, "fork"), reason="needs fork")
pytestmark = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")  # (3.12+)


async def answer(request: GenerationRequest) -> str:
    if request.purpose == "judge":
        return json.dumps({"score": 9, "feedback": "fine"})
    await asyncio.sleep(0.2 if "slowly" in request.messages[-1].content else 0.01)
    return "an answer"


def orchestrator(store: str | None = None) -> Orchestrator:
    return Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("a", "b"), store=store)


def test_run_sync_from_sixteen_threads_on_sqlite(tmp_path: Path) -> None:
    orch = orchestrator(f"sqlite:///{tmp_path / 'threads.db'}")
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: orch.run_sync(f"Question {i}"), range(48)))
    assert {r.status for r in results} == {"completed"}
    assert len({r.id for r in results}) == 48
    orch.close()


def test_a_run_on_a_second_event_loop_while_runs_are_under_way_is_refused() -> None:
    orch = orchestrator()  # (MemoryStore: it ran such runs, by luck; SQLite failed them with a RuntimeError)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(orch.run_sync, "Answer slowly")
        while not orch._closer._under_way:  # the run_sync has begun on its loop
            threading.Event().wait(0.005)
        with pytest.raises(UserError, match=r"runs under way on another event loop .* an orchestrator per event loop"):
            asyncio.run(orch.run("And this at the same time?"))
        assert first.result(30).status == "completed"
    assert asyncio.run(orch.run("Now it may")).status == "completed"  # one loop after another stays fine
    orch.close()


def _child(orch: Orchestrator, use: str, conn: Connection) -> None:
    try:
        if use == "run_sync":
            status = orch.run_sync("In the child").status
        else:
            status = asyncio.run(asyncio.wait_for(orch.run("In the child"), 30)).status
        conn.send(f"ran: {status}")
    except Exception as exc:
        conn.send(f"{type(exc).__name__}: {exc}")
    conn.close()


def in_forked_child(orch: Orchestrator, use: str) -> str:
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(orch, use, sender))
    child.start()
    try:
        assert receiver.poll(60), "the child got no answer (it waits for the parent's loop thread)"
        return str(receiver.recv())
    finally:
        child.kill()
        child.join(5)


@needs_fork
@pytest.mark.parametrize("use", ["run_sync", "run"])
def test_a_forked_child_refuses_an_orchestrator_that_ran_in_its_parent(tmp_path: Path, use: str) -> None:
    orch = orchestrator(f"sqlite:///{tmp_path / 'fork.db'}")
    assert orch.run_sync("In the parent").status == "completed"
    got = in_forked_child(orch, use)
    assert got.startswith("UserError: ") and "Create the Orchestrator in each process after the fork" in got
    assert orch.run_sync("The parent goes on").status == "completed"
    orch.close()


@needs_fork
def test_an_orchestrator_closed_before_the_fork_runs_in_the_child() -> None:
    orch = orchestrator()
    assert orch.run_sync("In the parent").status == "completed"
    orch.close()
    assert in_forked_child(orch, "run_sync") == "ran: completed"
    orch.close()


@needs_fork
def test_an_orchestrator_made_before_the_fork_and_never_run_there_runs_in_the_child() -> None:
    orch = orchestrator()  # (gunicorn --preload: built at import)
    assert in_forked_child(orch, "run_sync") == "ran: completed"
    assert in_forked_child(orch, "run") == "ran: completed"


def _send_forks(conn: Connection) -> None:
    conn.send(forks())
    conn.close()


@needs_fork
def test_forks_counts_the_forks_that_made_the_process() -> None:
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_send_forks, args=(sender,))
    child.start()
    assert receiver.recv() == forks() + 1
    child.join(10)


def _send_owner(orch: Orchestrator, conn: Connection) -> None:
    conn.send(orch.owner)
    conn.close()


@needs_fork
def test_forked_children_hold_leases_under_owners_of_their_own() -> None:
    orch = orchestrator()  # (gunicorn --preload: built at import, never run in the parent)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_send_owner, args=(orch, sender))
    child.start()
    owner = receiver.recv()
    child.join(10)
    assert owner != orch.owner


_PARENT = (
    "import json, sys\n"
    "from tests.orchestrator.test_threads_and_forks import preloaded_workers_drive\n"
    "print(json.dumps(preloaded_workers_drive(sys.argv[1], sys.argv[2])))\n"
)


def _drive_in_child(orch: Orchestrator, oid: str, start: Any, outcomes: Any) -> None:
    async def main() -> str:
        try:
            start.wait(60)  # both workers drive at once
            return (await orch.drive(oid)).status
        except Exception as exc:  # (a broken barrier too: said, not a child gone without a word)
            return type(exc).__name__
        finally:
            await orch.aclose()

    outcomes.put(asyncio.run(main()))


def preloaded_workers_drive(url: str, oid: str) -> list[str]:
    """What two workers forked from a parent holding one preloaded orchestrator return from driving run `oid`, sorted.
    Run in a fresh interpreter (`_PARENT`): a worker forked from the test process inherits the other tests'
    threads, and one holding a lock at the fork (logging's, a store thread's) left it hung until the wait for its
    answer ran out, a flake under load."""
    preloaded = orchestrator(url)  # (gunicorn --preload: made in the parent, used by each worker)
    context = multiprocessing.get_context("fork")
    start, outcomes = context.Barrier(2), context.Queue()
    workers = [context.Process(target=_drive_in_child, args=(preloaded, oid, start, outcomes)) for _ in range(2)]
    for worker in workers:
        worker.start()
    results = sorted(outcomes.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(30)
    return results


@needs_fork
def test_two_forked_workers_driving_one_orchestration_do_not_both_run_it(tmp_path: Path) -> None:
    """Both children held their parent's lease owner: each claimed the run and paid for its calls."""
    url = f"sqlite:///{tmp_path / 'preload.db'}"

    async def prepare() -> tuple[str, str]:
        async with orchestrator(url) as other:
            prepared = await other.prepare("Answer slowly", max_iterations=3, evaluation_threshold=10)
            return prepared.id, prepared.session_id

    oid, session_id = asyncio.run(prepare())
    parent = subprocess.run(
        [sys.executable, "-c", _PARENT, url, oid],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    assert parent.returncode == 0, parent.stderr
    results = json.loads(parent.stdout)
    # (the second refused while the first runs it; or, far behind, it finds the run already ended and returns it)
    assert results in (["Conflict", "completed"], ["completed", "completed"])

    async def books() -> tuple[float, float]:
        async with orchestrator(url) as other:
            orchestration = await other.store.get_orchestration(oid)
            session = await other.store.get_session(session_id)
            assert orchestration is not None and session is not None
            return orchestration.total_cost, session.total_cost

    spent_by_run, spent_by_session = asyncio.run(books())
    assert spent_by_run > 0 and spent_by_session == spent_by_run  # the loser paid for nothing


def test_an_orchestrator_handed_to_a_process_pool_or_copied_is_refused_with_what_to_do() -> None:
    # `pool.submit(work, orchestrator)` (spawn) failed with "Can't pickle local object 'WeakSet.__init__.<locals>
    # ._remove'"; `copy.deepcopy` of a config holding one that had run, with a RecursionError; and `copy.copy` made a
    # twin sharing its event loop thread, leases and runs, which closing one broke for the other
    import copy
    import pickle

    orchestrator = Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("a", "b"))
    assert orchestrator.run_sync("Hello", max_iterations=1).status == "completed"
    for attempt in (pickle.dumps, copy.deepcopy, copy.copy, lambda o: copy.deepcopy({"orchestrator": o})):
        with pytest.raises(
            UserError, match=r"^an Orchestrator cannot be copied or pickled: .* Make one in each process"
        ):
            attempt(orchestrator)
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        with pytest.raises(UserError, match=r"^an Orchestrator cannot be copied or pickled"):
            pool.submit(repr, orchestrator).result()
    assert orchestrator.run_sync("Hello again", max_iterations=1).status == "completed"  # untouched
    orchestrator.close()


def test_close_from_two_threads_at_once_returns_in_both(tmp_path: Path) -> None:
    # two threads closing one orchestrator while runs were under way (a worker's shutdown hook and `atexit`, or two
    # request threads' teardown): the first stopped run_sync's event loop under the second, whose close() raised a
    # bare CancelledError
    orch = orchestrator(f"sqlite:///{tmp_path / 'runs.db'}")
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        runs = [pool.submit(orch.run_sync, "Answer slowly") for _ in range(3)]
        while sum(orch._closer._under_way.values()) < 3:  # the runs have begun on run_sync's loop
            threading.Event().wait(0.005)
        closes = [pool.submit(orch.close) for _ in range(3)]
        assert [c.result(30) for c in closes] == [None, None, None]
        assert {r.result(30).status for r in runs} <= {"cancelled", "completed"}
    assert orch.run_sync("And after?").status == "completed"  # closed, it runs again
    orch.close()


def test_run_sync_racing_close_gets_a_result_or_a_user_error() -> None:
    # threads calling run_sync while another closes the orchestrator again and again (a threaded app shutting down):
    # a run begun just after close() had stopped the runs, but before it stopped run_sync's loop, was cancelled with
    # that loop, and its caller got a bare CancelledError; another was refused with "runs under way on another event
    # loop", and one raised "RuntimeError: Event loop is closed". Each now gets its RunResult (completed, or cancelled
    # by the close) or the UserError of a run started while the orchestrator closes.
    orch = orchestrator()
    outcomes: list[str] = []
    stop = threading.Event()

    def keep_running() -> None:
        while not stop.is_set():
            try:
                outcomes.append(orch.run_sync("Hello").status)
            except UserError as exc:
                outcomes.append("refused" if "is being closed" in exc.message else f"UserError: {exc.message}")
            except BaseException as exc:  # (what the test is about)
                outcomes.append(f"{type(exc).__name__}: {exc}")

    workers = [threading.Thread(target=keep_running) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        for _ in range(12):
            threading.Event().wait(0.05)
            orch.close()
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)
    orch.close()
    assert set(outcomes) <= {"completed", "cancelled", "refused"}, sorted(set(outcomes) - {"completed", "cancelled"})
    assert "completed" in outcomes
