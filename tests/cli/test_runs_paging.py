"""`orchestratex runs list` reads what it shows from the end of a long history, not the whole history."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

import pytest

from orchestratex.cli import main
from orchestratex.records import Orchestration, Session, Thread
from orchestratex.stores import open_store
from orchestratex.stores.sqlite import SQLiteStore

from .conftest import run_cli

HISTORY = 700
"""More than one page of the store (500), so that the listing crosses pages."""


def _fill(url: str) -> list[Orchestration]:
    """`HISTORY` orchestrations of two users, of three statuses; returned oldest first."""

    async def fill() -> list[Orchestration]:
        store = await open_store(url)
        try:
            made = []
            for user in ("alice", "bob"):
                session = await store.create_session(Session(user_id=user))
                thread = await store.create_thread(
                    Thread(session_id=session.id, user_id=user, original_prompt="Write a haiku")
                )
                for i in range(HISTORY // 2):
                    status = ("completed", "failed", "cancelled")[i % 3]
                    made.append(
                        await store.create_orchestration(
                            Orchestration(
                                thread_id=thread.id,
                                session_id=session.id,
                                user_id=user,
                                prompt=f"{user} {i}",
                                status=status,
                            )
                        )
                    )
            return sorted(made, key=lambda o: (o.created_at, made.index(o)))
        finally:
            await store.close()

    return asyncio.run(fill())


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Orchestration]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('history') / 'runs.db'}"
    return url, _fill(url)


def test_the_default_listing_reads_a_page_not_the_whole_history(
    history: tuple[str, list[Orchestration]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, made = history
    read: list[int] = []
    listed = SQLiteStore.list_orchestrations

    async def counted(self: SQLiteStore, **kw: Any) -> list[Orchestration]:
        page = await listed(self, **kw)
        read.append(len(page))
        return page

    monkeypatch.setattr(SQLiteStore, "list_orchestrations", counted)
    assert main(["runs", "list", "--limit", "3", "--json", "--store", url]) == 0
    assert [r["_id"] for r in json.loads(capsys.readouterr().out)] == [o.id for o in reversed(made[-3:])]
    assert sum(read) < 40, f"read {sum(read)} orchestrations to show 3 (pages {read})"


@pytest.mark.parametrize(
    "options",
    [[], ["--limit", "0"], ["--limit", "600"], ["--status", "failed", "--limit", "0"], ["--user", "alice"]],
)
def test_filters_and_limits_across_pages_as_the_whole_history_gives_them(
    history: tuple[str, list[Orchestration]], options: list[str]
) -> None:
    url, made = history
    done = run_cli("runs", "list", "--json", "--store", url, *options)
    assert done.returncode == 0, done.stderr
    status = options[options.index("--status") + 1] if "--status" in options else None
    user = options[options.index("--user") + 1] if "--user" in options else None
    limit = int(options[options.index("--limit") + 1]) if "--limit" in options else 20
    expected = [o.id for o in reversed(made) if status in (None, o.status) and user in (None, o.user_id)]
    assert [r["_id"] for r in json.loads(done.stdout)] == expected[: limit or None]


def test_a_page_from_the_end_of_a_sqlite_store_is_read_through_an_index(
    history: tuple[str, list[Orchestration]],
) -> None:
    """Without an index on `created_at`, every page sorted the whole table with its documents (about 0.2 s a page
    at 10,000 orchestrations), whatever its size."""
    url, _ = history
    db = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT id, doc FROM orchestrations ORDER BY created_at, rowid LIMIT 3 OFFSET 600"
        ).fetchall()
    finally:
        db.close()
    details = " ".join(str(row[-1]) for row in plan)
    assert "TEMP B-TREE" not in details and "ix_orchestrations_created" in details, details
