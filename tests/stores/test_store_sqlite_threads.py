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
