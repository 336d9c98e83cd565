"""Runs started at once on an orchestrator whose store is not open yet: the first opens it, the others wait for it,
and cancelling one of them (a caller's timeout, a client gone) ends that run alone."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from orchestratex import FunctionProvider, GenerationRequest, Orchestrator, RunResult
from orchestratex.stores import SQLiteStore

from ..helpers import catalog


async def answer(request: GenerationRequest) -> str:
    if request.purpose == "judge":
        return json.dumps({"score": 9, "feedback": "fine"})
    return "an answer"


class SlowToOpen(SQLiteStore):
    """A SQLite store whose first `open()` waits for `go` (a slow disk, a migration), so runs meet while it opens."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.go = asyncio.Event()
        self.opening = asyncio.Event()

    async def open(self) -> None:
        self.opening.set()
        await self.go.wait()
        await super().open()


async def test_a_run_cancelled_while_waiting_for_the_store_to_open_ends_alone(tmp_path: Path) -> None:
    # (it cancelled the future every run waited on: the other runs raised CancelledError, and the one opening the
    # store failed with "InvalidStateError: invalid state")
    store = SlowToOpen(tmp_path / "runs.db")
    orch = Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("a", "b"), store=store)
    runs = [asyncio.create_task(orch.run(f"Question {i}")) for i in range(4)]
    await store.opening.wait()
    await asyncio.sleep(0.01)  # (the other three wait for the store)
    runs[2].cancel()
    store.go.set()
    results = await asyncio.gather(*runs, return_exceptions=True)
    assert isinstance(results[2], asyncio.CancelledError)
    done = [r for i, r in enumerate(results) if i != 2]
    assert all(isinstance(r, RunResult) and r.status == "completed" for r in done), done
    assert len(await store.list_orchestrations()) == 3
    await orch.aclose()
    await store.close()


async def test_the_run_opening_the_store_cancelled_lets_the_others_open_it(tmp_path: Path) -> None:
    # (its CancelledError was handed to every run waiting for the store: all of them were cancelled with it)
    store = SlowToOpen(tmp_path / "runs.db")
    orch = Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("a", "b"), store=store)
    first = asyncio.create_task(orch.run("Question 0"))
    await store.opening.wait()
    others = [asyncio.create_task(orch.run(f"Question {i}")) for i in range(1, 4)]
    await asyncio.sleep(0.01)  # (they wait for the store)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    store.go.set()
    results = await asyncio.gather(*others, return_exceptions=True)
    assert all(isinstance(r, RunResult) and r.status == "completed" for r in results), results
    assert first.cancelled()
    await orch.aclose()
    await store.close()
