"""A synchronous `with Orchestrator(...)` block opens what `async with` opens, on `run_sync`'s loop: the store (one
named by a URL too) is open inside the block before any run, a store that cannot open fails at the `with` line, and
runs and store calls inside and after the block work — in a script and in a Jupyter kernel (skipped without
nbclient and ipykernel)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import orchestratex
from orchestratex import (
    FunctionProvider,
    GenerationRequest,
    MemoryStore,
    Orchestrator,
    SQLiteStore,
    UserError,
)
from orchestratex.exceptions import StoreError
from orchestratex.stores import Store

from ..helpers import catalog


def answer(request: GenerationRequest) -> str:
    return json.dumps({"score": 9, "feedback": "fine"}) if request.purpose == "judge" else "an answer"


def orchestrator(store: Store | str) -> Orchestrator:
    return Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("a", "b"), store=store)


def run_sync_threads() -> set[threading.Thread]:
    """The `run_sync` loop threads alive now (an earlier test's orchestrator, never closed, may still hold one until
    it is collected: each test checks only for threads of its own)."""
    return {t for t in threading.enumerate() if t.name == "orchestratex-run-sync"}


@pytest.mark.parametrize("kind", ["sqlite-url", "sqlite", "memory"])
def test_the_store_is_open_inside_a_with_block_before_any_run(tmp_path: Path, kind: str) -> None:
    before = run_sync_threads()
    given: Store | None = None
    if kind == "sqlite":
        given = SQLiteStore(tmp_path / "mine.db")
    elif kind == "memory":
        given = MemoryStore()
    with orchestrator(given or f"sqlite:///{tmp_path / 'runs.db'}") as orch:
        # was: "SQLiteStore('…runs.db') is not open: `await store.open()` or use `async with store:` first"
        assert asyncio.run(orch.store.list_sessions("local")) == []
        result = orch.run_sync("Hello", max_iterations=1)
        assert result.status == "completed"
        assert [s.id for s in asyncio.run(orch.store.list_sessions("local"))] == [result.orchestration.session_id]
    if given is not None:  # the caller's store stays open after the block, as after `async with`
        assert len(asyncio.run(given.list_sessions("local"))) == 1
        asyncio.run(given.close())
    assert not run_sync_threads() - before


def test_a_store_that_cannot_open_fails_at_the_with_line(tmp_path: Path) -> None:
    before = run_sync_threads()
    (tmp_path / "a-file").write_text("")
    entered = False
    with (
        pytest.raises(StoreError, match="Not a directory"),
        orchestrator(f"sqlite:///{tmp_path / 'a-file' / 'runs.db'}"),
    ):
        entered = True
    assert not entered
    assert not run_sync_threads() - before  # (its loop stopped)


async def test_a_with_block_in_async_code_is_refused_at_the_with_line() -> None:
    with pytest.raises(UserError, match=r"Use `async with Orchestrator\(...\)` there instead"):
        with orchestrator(MemoryStore()):
            pass


CELL = """
import asyncio
from orchestratex import Orchestrator
with Orchestrator(simulate=True, store="sqlite:///runs.db") as orch:
    orch.providers["sim"].latency_scale = 0
    print("before:", len(await orch.store.list_sessions("local")))
    print("run:", orch.run_sync("Hello", max_iterations=1).status)
    print("after:", len(await orch.store.list_sessions("local")))
print("again:", orch.run_sync("Hello again", max_iterations=1).status)
orch.close()
"""


def test_a_with_block_in_a_jupyter_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(orchestratex.__file__).parents[1]), *sys.path]))
    nbformat: Any = pytest.importorskip("nbformat")
    nbclient: Any = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL.strip())])
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=60, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = nb.cells[0].get("outputs", [])
    text = "".join(o.get("text", "") for o in outputs)
    assert not [o for o in outputs if o["output_type"] == "error"], outputs
    assert text.split() == "before: 0 run: completed after: 1 again: completed".split(), text


async def test_a_store_made_from_a_url_read_while_not_open_says_who_opens_it(tmp_path: Path) -> None:
    # it said "`await store.open()` or use `async with store:` first", of a store the user never made: the
    # orchestrator's, which a later run (or a with block) opens, as the message now says
    orch = Orchestrator(simulate=True, store=f"sqlite:///{tmp_path / 'runs.db'}")
    said = r"is not open: the Orchestrator that made it from its URL opens it \(at its next run, or as `with orchestr"
    with pytest.raises(StoreError, match=said):
        await orch.store.list_sessions("local")
    async with orch:
        assert await orch.store.list_sessions("local") == []
    with pytest.raises(StoreError, match=r"and closes it \(close\(\), aclose\(\)\); read it within such a block"):
        await orch.store.list_sessions("local")
    store = SQLiteStore(tmp_path / "mine.db")  # (one of the user's own: they open it)
    with pytest.raises(StoreError, match=r"is not open: `await store.open\(\)` or use `async with store:` first"):
        await store.list_sessions("local")
