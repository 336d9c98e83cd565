"""A `SQLiteStore` opened before a fork (`multiprocessing` with `fork`, a pre-forking server) used in the child: a read
waited forever for the parent's reader thread, which is not in the child, and a write went through the parent's
connection, which SQLite forbids (a connection used across a fork can corrupt the database). Both now raise a
`UserError` saying to open the store in the child, and opening it there opens it afresh."""

from __future__ import annotations

import asyncio
import os
import sys
import warnings
from pathlib import Path

import pytest

from orchestratex.exceptions import UserError
from orchestratex.records import Session
from orchestratex.stores import SQLiteStore

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this system")


def _in_child(store: SQLiteStore) -> str:
    """What the forked child saw, one word per step (the child's own event loop, as a new process has)."""

    async def steps() -> str:
        seen = []
        for step in ("read", "write"):
            call = store.list_sessions("ada") if step == "read" else store.create_session(Session(user_id="child"))
            try:
                await asyncio.wait_for(call, 30)
                seen.append(f"{step}:done")
            except UserError as exc:
                assert "was opened in the process this one was forked from" in str(exc), exc
                seen.append(f"{step}:refused")
            except TimeoutError:
                seen.append(f"{step}:hung")
        try:
            await store.open()  # opened afresh in this process
            await asyncio.wait_for(store.create_session(Session(user_id="child")), 30)
            seen.append(f"reopened:{len(await asyncio.wait_for(store.list_sessions('child'), 30))}")
            await store.close()
        except TimeoutError:
            seen.append("reopened:hung")
        return " ".join(seen)

    return asyncio.run(steps())


def test_a_store_opened_before_a_fork_is_refused_in_the_child_until_opened_there(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "runs.db")
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(store.open())
        loop.run_until_complete(store.create_session(Session(user_id="ada")))
        read, write = os.pipe()
        with warnings.catch_warnings():  # (3.12+ warns of fork() in a process with threads: the store's)
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child
            os.close(read)
            try:
                said = _in_child(store)
            except BaseException as exc:
                said = f"error: {exc!r}"
            os.write(write, said.encode())
            sys.stdout.flush()
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as pipe:
            said = pipe.read()
        os.waitpid(pid, 0)
        assert said == "read:refused write:refused reopened:1"
        # the parent's store is as it was: its connections work, and the child's refused write wrote nothing
        assert len(loop.run_until_complete(store.list_sessions("ada"))) == 1
        assert len(loop.run_until_complete(store.list_sessions("child"))) == 1  # the one written once reopened
    finally:
        loop.run_until_complete(store.close())
        loop.close()
