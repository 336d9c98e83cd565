"""`cancel` while the store cannot be written (a SQLite file another process holds locked past every retry): the user
is told the run was NOT cancelled, the run is stopped here and its lease kept, so a server's resume pass on the same
store does not resume (and pay for) it, and the cancel is written once the store answers. Before, `cancel` returned
True, the run stayed `running`, its lease expired and the next resume pass ran it to its end."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import pytest

from orchestratex import FunctionProvider, Orchestrator, RetryPolicy, SQLiteStore
from orchestratex.exceptions import StoreUnavailable
from orchestratex.providers import GenerationRequest
from orchestratex.routing import BayesianRouter

from ..helpers import NO_WAIT, catalog

TTL = 6.0
"""Renewed, and the cancel written again, every 2 s."""


class _Models:
    """The first answer waits for `go` (the run's call under way); every other call answers at once, counted."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.go = asyncio.Event()
        self.answers = 0

    async def __call__(self, request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": 5.0, "feedback": "go on"})
        self.answers += 1
        if self.answers == 1:
            self.entered.set()
            await self.go.wait()
        return "an answer"


def _orchestrator(path: Path, models: _Models) -> Orchestrator:
    return Orchestrator(
        providers=[FunctionProvider(models)],
        catalog=catalog("a", "b"),
        retry=NO_WAIT,
        store_retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        store=SQLiteStore(path, busy_timeout=0.05),
        lease_ttl_s=TTL,
    )


@pytest.mark.parametrize("state", ["started", "driven", "prepared"])
async def test_a_cancel_the_store_did_not_take_says_so_and_no_other_process_resumes_the_run(
    tmp_path: Path, state: str
) -> None:
    path = tmp_path / "shared.db"
    models = _Models()
    async with _orchestrator(path, models) as app, _orchestrator(path, models) as server:
        session = await app.create_session(cost_limit=1.0)
        doc = await app.prepare("Write a sort function", session=session, max_iterations=3)
        if state != "prepared":
            task = app.start(doc) if state == "started" else asyncio.create_task(app.drive(doc.id))
            await asyncio.wait_for(models.entered.wait(), 30)
        locker = sqlite3.connect(path, isolation_level=None)  # another process's connection to the file
        locker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreUnavailable, match=f"orchestration {doc.id} was NOT cancelled"):
                await app.cancel(doc.id)  # (it returned True)
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        if state != "prepared":
            with pytest.raises(StoreUnavailable):
                await task
        answers = models.answers
        deadline = time.monotonic() + 60
        while (stored := await server.store.get_orchestration(doc.id)).status != "cancelled":
            assert time.monotonic() < deadline, "the cancel was never written"
            assert await server.resume_pending() == []  # (it resumed the run the user cancelled, and paid for it)
            await asyncio.sleep(0.1)
        assert await server.resume_pending() == []  # (its cancel's commit gave the lease up: the run has ended)
        assert models.answers == answers
        assert stored.stop_reason == "cancelled"
        assert (await server.store.get_session(session.id)).reserved_cost == 0.0


async def test_a_run_whose_cancel_the_store_did_not_take_is_not_driven_on_by_a_drive_of_it(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    models = _Models()
    async with _orchestrator(path, models) as app:
        session = await app.create_session(cost_limit=1.0)
        doc = await app.prepare("Write a sort function", session=session, max_iterations=3)
        task = app.start(doc)
        await asyncio.wait_for(models.entered.wait(), 30)
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreUnavailable, match=f"orchestration {doc.id} was NOT cancelled"):
                await app.cancel(doc.id)
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        with pytest.raises(StoreUnavailable):
            await task
        answers = models.answers
        result = await app.drive(doc.id)  # (it ran the run on, making the calls the user had cancelled)
        assert (result.status, result.orchestration.stop_reason) == ("cancelled", "cancelled")
        assert models.answers == answers
        assert (await app.store.get_session(session.id)).reserved_cost == 0.0


async def test_a_cancel_of_a_run_whose_start_the_store_never_took_returns_true_and_warns_of_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "shared.db"
    models = _Models()
    app = _orchestrator(path, models)
    app.store_retry = RetryPolicy(max_attempts=40, initial_wait=0.1, max_wait=0.1)  # (a few seconds of attempts)
    async with app:
        session = await app.create_session(cost_limit=1.0)
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        try:
            task = asyncio.create_task(app.run("Write a sort function", session=session, max_iterations=3))
            deadline = time.monotonic() + 30
            while not app._tasks:  # (planned: its start is being written, and retried)
                assert time.monotonic() < deadline and not task.done()
                await asyncio.sleep(0.01)
            (oid,) = app._tasks
            assert await app.cancel(oid)  # (it said it was NOT cancelled, of a run the store never had)
            with pytest.raises(StoreUnavailable):
                await task
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert await app.store.list_orchestrations(session_id=session.id) == []
    assert "NOT cancelled" not in caplog.text
    assert models.answers == 0
