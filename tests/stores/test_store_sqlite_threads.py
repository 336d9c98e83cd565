"""One `SQLiteStore` used from several threads at once, each with an event loop of its own (a WSGI app's request
threads each running `asyncio.run(store.…)`): two threads ran transactions on the store's one write connection at the
same time ("SQLite error: cannot commit - no transaction is active"), and a session whose `create_session` had
returned was then `NotFound` (a read on the shared lookup connection held to an older snapshot by another thread's
statement). Writes now take the connection one thread at a time, and such reads go to the reader thread."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from orchestratex.exceptions import StoreError
from orchestratex.records import Session
from orchestratex.stores import SQLiteStore


@pytest.mark.parametrize("where", ["file", "memory"])
def test_a_store_used_from_threads_each_with_its_loop_loses_nothing(where: str, tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "runs.db" if where == "file" else ":memory:")
    asyncio.run(store.open())
    errors: list[BaseException] = []

    def thread(i: int) -> None:
        async def requests() -> None:
            for _ in range(150):
                session = await store.create_session(Session(user_id=f"user{i}"))
                assert (await store.get_session(session.id)).user_id == f"user{i}"
                await store.list_sessions(f"user{i}", limit=5)
            await asyncio.gather(*(store.create_session(Session(user_id=f"user{i}")) for _ in range(50)))

        try:
            asyncio.run(requests())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=thread, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []

    async def counts() -> list[int]:
        try:
            return [len(await store.list_sessions(f"user{i}", limit=1000)) for i in range(4)]
        finally:
            await store.close()

    assert asyncio.run(counts()) == [200] * 4


@pytest.mark.parametrize("where", ["file", "memory"])
def test_closing_the_store_while_other_threads_use_it_fails_their_calls_cleanly(where: str, tmp_path: Path) -> None:
    # Closed (and opened again) by one thread while others read and write: the close took the connections from under
    # their statements, and the process died with a segmentation fault (a read fell back to the write connection
    # being closed, a lookup ran on its connection as it was closed, a read queued behind the reader's stop hung).
    store = SQLiteStore(tmp_path / "runs.db" if where == "file" else ":memory:")

    async def first() -> str:
        await store.open()
        return (await store.create_session(Session(user_id="u"))).id

    session_id = asyncio.run(first())
    failures: list[str] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=_use_until, args=(store, session_id, writes, stop, failures))
        for writes in (False, False, True)
    ]
    for t in threads:
        t.start()
    try:
        for _ in range(20):
            stop.wait(0.01)
            asyncio.run(store.close())
            asyncio.run(store.open())
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not any(t.is_alive() for t in threads)

    async def last() -> None:
        try:
            assert (await store.get_session(session_id)).user_id == "u"
        finally:
            await store.close()

    asyncio.run(last())
    assert failures == []


def _use_until(store: SQLiteStore, session_id: str, writes: bool, stop: threading.Event, failures: list[str]) -> None:
    """In a thread with its own event loop: write (or read) until `stop`, keeping any failure but "not open"."""

    async def requests() -> None:
        while not stop.is_set():
            try:
                if writes:
                    await store.create_session(Session(user_id="u"))
                else:
                    await store.get_session(session_id)
                    await store.list_sessions("u", limit=2)
            except StoreError as exc:
                if "is not open" not in str(exc):
                    failures.append(repr(exc))
                await asyncio.sleep(0.001)  # (closed: let the closing thread have the GIL)

    try:
        asyncio.run(requests())
    except BaseException as exc:
        failures.append(repr(exc))


@pytest.mark.parametrize("where", ["file", "memory"])
def test_threads_opening_the_store_at_once_each_with_its_loop_all_get_it_open(where: str, tmp_path: Path) -> None:
    # Each request thread of a WSGI app opening the shared store at its first request (`asyncio.run(store.open())`,
    # which returns at once once it is open): the threads that came while the first one opened waited on an
    # `asyncio.Lock` bound to that thread's loop, were never woken, and their requests hung for ever.
    store = SQLiteStore(tmp_path / "runs.db" if where == "file" else ":memory:")
    ready = threading.Barrier(4)
    errors: list[BaseException] = []

    def thread() -> None:
        async def first_request() -> None:
            ready.wait()
            await store.open()
            await store.create_session(Session(user_id="ada"))

        try:
            asyncio.run(first_request())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=thread, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "an open() never returned"
    assert errors == []

    async def sessions() -> int:
        try:
            return len(await store.list_sessions("ada"))
        finally:
            await store.close()

    assert asyncio.run(sessions()) == 4
