"""Closing an orchestrator with runs in flight (`aclose`, `async with`, `close`) ends each run `cancelled` before it
closes the store: nothing is left `running`, nothing reserved, and each caller gets its `RunResult`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from orchestratex import FunctionProvider, Generation, GenerationRequest, Orchestrator, RunResult, UserError
from orchestratex.orchestrator._closing import CLOSED_WHILE_RUNNING
from orchestratex.stores import MemoryStore, SQLiteStore, Store

from ..helpers import NO_WAIT, catalog

RUNS = 30


class _Stuck:
    """A provider whose calls never return: every run is in flight until it is stopped."""

    def __init__(self) -> None:
        self.calls = 0
        self.all_in = asyncio.Event()
        self.want = RUNS

    async def __call__(self, request: GenerationRequest) -> Generation:
        self.calls += 1
        if self.calls >= self.want:
            self.all_in.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


@pytest.fixture(params=["memory", "sqlite"])
async def where(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Store | str, Store]]:
    """What the orchestrator is given (a MemoryStore, or a SQLite URL it opens and closes itself) and a store to read
    the outcome from."""
    if request.param == "memory":
        memory = MemoryStore()
        yield memory, memory
        return
    url = f"sqlite:///{tmp_path / 'close.db'}"
    reader = SQLiteStore(tmp_path / "close.db")
    yield url, reader
    await reader.close()


def _orchestrator(store: Store | str, stuck: _Stuck) -> Orchestrator:
    return Orchestrator(providers=[FunctionProvider(stuck)], catalog=catalog("a", "b"), store=store, retry=NO_WAIT)


async def _nothing_left(store: Store, session_id: str, runs: int = RUNS) -> None:
    await store.open()
    docs = await store.list_orchestrations(session_id=session_id, limit=1000)
    assert len(docs) == runs
    assert {(d.status, d.stop_reason, d.error) for d in docs} == {("cancelled", "cancelled", CLOSED_WHILE_RUNNING)}
    assert await store.list_resumable() == []
    assert (await store.get_session(session_id)).reserved_cost == 0


@pytest.mark.parametrize("how", ["aclose", "async with"])
async def test_closing_ends_every_run_in_flight_cancelled(where: tuple[Store | str, Store], how: str) -> None:
    given, reader = where
    stuck = _Stuck()
    orchestrator = _orchestrator(given, stuck)
    async with orchestrator:
        session = await orchestrator.create_session("alice", cost_limit=10.0)
        runs = [asyncio.create_task(orchestrator.run(f"prompt {i}", session=session)) for i in range(RUNS)]
        await asyncio.wait_for(stuck.all_in.wait(), 10)
        assert (await orchestrator.store.get_session(session.id)).reserved_cost > 0
        if how == "aclose":
            await orchestrator.aclose()
    # (the store as `aclose` left it, before the runs' callers have even looked)
    await _nothing_left(reader, session.id)
    results: list[RunResult] = await asyncio.gather(*runs)  # each caller gets its result, no exception
    assert {(r.status, r.orchestration.error) for r in results} == {("cancelled", CLOSED_WHILE_RUNNING)}
    assert all(r.events[-1].type == "orchestration_failed" for r in results)


async def test_close_ends_the_run_sync_calls_of_other_threads(tmp_path: Path) -> None:
    """`close()` from one thread while others wait in `run_sync`: each of those returns its cancelled result."""
    stuck = _Stuck()
    stuck.want = 3
    orchestrator = _orchestrator(f"sqlite:///{tmp_path / 'close.db'}", stuck)
    in_flight = threading.Event()
    stuck.all_in = _ThreadSafeFlag(in_flight)  # type: ignore[assignment]

    def close_when_in_flight() -> None:
        assert in_flight.wait(10)
        orchestrator.close()

    with ThreadPoolExecutor(4) as pool:
        calls = [pool.submit(orchestrator.run_sync, f"prompt {i}", cost_limit=1.0) for i in range(3)]
        closing = pool.submit(close_when_in_flight)
        results = [c.result(timeout=30) for c in calls]
        closing.result(timeout=30)
    assert {(r.status, r.orchestration.error) for r in results} == {("cancelled", CLOSED_WHILE_RUNNING)}
    reader = SQLiteStore(tmp_path / "close.db")
    async with reader:
        assert await reader.list_resumable() == []
        assert {d.status for d in await reader.list_orchestrations(limit=100)} == {"cancelled"}


class _ThreadSafeFlag:
    """`asyncio.Event.set` for `_Stuck`, signalling a thread instead."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def set(self) -> None:
        self.event.set()


async def test_runs_begun_while_closing_are_refused(tmp_path: Path) -> None:
    stuck = _Stuck()
    stuck.want = 1
    orchestrator = _orchestrator(f"sqlite:///{tmp_path / 'close.db'}", stuck)
    first = asyncio.create_task(orchestrator.run("in flight"))
    await asyncio.wait_for(stuck.all_in.wait(), 10)
    prepared = await orchestrator.prepare("prepared, started while the orchestrator closes")
    closing = asyncio.create_task(orchestrator.aclose())
    await asyncio.sleep(0)  # (`aclose` is stopping `first`)
    started = orchestrator.start(prepared)
    with pytest.raises(UserError, match="being closed"):
        await orchestrator.run("too late")
    await closing
    assert (await first).status == "cancelled"
    with pytest.raises(UserError, match="being closed"):  # refused, not failed on the closed store
        await started
    reader = SQLiteStore(tmp_path / "close.db")
    async with reader:
        assert (await reader.get_orchestration(prepared.id)).status == "pending"  # as `prepare` left it
        assert (await reader.get_orchestration((await first).id)).status == "cancelled"
        assert len(await reader.list_orchestrations(limit=10)) == 2  # the refused run stored nothing


async def test_aclose_from_several_tasks_at_once_returns_in_each(tmp_path: Path) -> None:
    # `aclose()` awaited by two tasks at once (a shutdown hook's and a teardown's) while runs were in flight: each
    # closed the store it opened, and the second raised the SQLite store's bare "Stopped: the worker thread was
    # stopped"; the others now wait for the first and return
    stuck = _Stuck()
    stuck.want = 3
    orchestrator = Orchestrator(
        providers=[FunctionProvider(stuck)],
        catalog=catalog("a", "b"),
        store=f"sqlite:///{tmp_path / 'runs.db'}",
        retry=NO_WAIT,
    )
    runs = [asyncio.create_task(orchestrator.run(f"Question {i}", max_iterations=1)) for i in range(3)]
    await asyncio.wait_for(stuck.all_in.wait(), 10)
    assert await asyncio.gather(*(orchestrator.aclose() for _ in range(3))) == [None, None, None]
    assert {r.status for r in await asyncio.gather(*runs)} == {"cancelled"}
    orchestrator.providers = [FunctionProvider(lambda request: '{"score": 9, "feedback": "ok"}')]
    assert (await orchestrator.run("And after?", max_iterations=1)).status == "completed"  # closed, it runs again
    await orchestrator.aclose()
