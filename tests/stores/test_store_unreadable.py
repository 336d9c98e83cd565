"""A stored orchestration this version cannot read (a newer version's status, a document edited by hand): reading it
says which run and what is wrong; a listing shows a stand-in saying so in its place, and every other run."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from orchestratex.exceptions import StoreError
from orchestratex.records import Orchestration, Session, Thread
from orchestratex.stores import SQLiteStore

from ..cli.conftest import run_cli


async def _three_runs(path: Path) -> list[str]:
    async with SQLiteStore(path) as store:
        session = await store.create_session(Session(user_id="ada"))
        thread = await store.create_thread(Thread(session_id=session.id, user_id="ada", original_prompt="p"))
        ids = []
        for i in range(3):
            o = Orchestration(thread_id=thread.id, session_id=session.id, user_id="ada", prompt=f"question {i}")
            o.status, o.total_cost, o.final_score = "completed", 0.25, 8.0
            await store.create_orchestration(o)
            ids.append(o.id)
        return ids


def _newer_status(path: Path, oid: str) -> None:
    """What a newer version with a status of its own, or a hand edit, leaves in the file."""
    with sqlite3.connect(path) as db:
        db.execute("UPDATE orchestrations SET state = json_set(state, '$.status', 'paused') WHERE id = ?", (oid,))
    db.close()


_SAYS = (
    "is stored in a form this version of OrchestrateX ({version}) cannot read (written by another version, or edited"
    " by hand): status: Input should be 'pending', 'running', 'completed', 'failed' or 'cancelled' (stored: 'paused')"
)


def test_a_run_this_version_cannot_read_is_named_and_the_listings_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # reading it raised pydantic's bare ValidationError, and every listing that included it failed with it: `runs
    # list` showed a traceback and no run at all, and nothing could be listed past it
    from orchestratex import __version__

    path = tmp_path / "runs.db"
    first, odd, last = asyncio.run(_three_runs(path))
    _newer_status(path, odd)
    says = f"orchestration {odd} " + _SAYS.format(version=__version__)

    async def read() -> None:
        async with SQLiteStore(path) as store:
            with pytest.raises(StoreError) as refused:
                await store.get_orchestration(odd)
            assert str(refused.value) == says
            with caplog.at_level(logging.WARNING, logger="orchestratex.stores"):
                listed = await store.list_orchestrations()
            assert [r.getMessage() for r in caplog.records] == [f"{says}; it is listed as failed, with that error"]
            assert [o.id for o in listed] == [first, odd, last]  # in its place: pages and offsets stay right
            stand_in = listed[1]
            assert (stand_in.status, stand_in.error, stand_in.prompt) == ("failed", says, "question 1")
            assert (stand_in.total_cost, stand_in.user_id) == (0.25, "ada")
            assert [o.id for o in await store.list_orchestrations(limit=1, offset=1)] == [odd]
            assert [o.id for o in await store.list_orchestrations(limit=1, offset=2)] == [last]
            assert len(caplog.records) == 1  # (once: a listing read again and again does not repeat it)

    asyncio.run(read())
    url = f"sqlite:///{path}"
    listing = run_cli("runs", "list", "--store", url, cwd=tmp_path)
    assert listing.returncode == 0, listing
    shown = [line.split()[0] for line in listing.stdout.splitlines()[1:]]
    assert shown == [last, odd, first]
    assert "failed" in listing.stdout.splitlines()[2]
    show = run_cli("runs", "show", odd, "--store", url, cwd=tmp_path)
    assert (show.returncode, show.stdout) == (1, ""), show
    assert show.stderr.splitlines() == [f"orchestratex: StoreError: {says}"]


def test_an_event_this_version_cannot_read_is_left_out_and_the_others_are_listed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a newer version's event type made `list_events` raise pydantic's bare ValidationError: `runs show` of the run
    # printed a traceback, and the WebSocket's replay of the session failed
    from orchestratex.events import ModelSelected

    path = tmp_path / "runs.db"

    async def write() -> tuple[str, str]:
        async with SQLiteStore(path) as store:
            session = await store.create_session(Session(user_id="ada"))
            thread = await store.create_thread(Thread(session_id=session.id, user_id="ada", original_prompt="p"))
            o = Orchestration(thread_id=thread.id, session_id=session.id, user_id="ada", prompt="question")
            await store.create_orchestration(o)
            for i in (1, 2, 3):
                ids = {"orchestration_id": o.id, "thread_id": o.thread_id, "session_id": o.session_id}
                await store.commit(o, [ModelSelected(**ids, model_name="m", reasoning="r", iteration=i)])
            o.status = "completed"
            o.final_response = "the answer"
            await store.commit(o)
            return session.id, o.id

    session_id, oid = asyncio.run(write())
    with sqlite3.connect(path) as db:
        db.execute("UPDATE events SET doc = json_set(doc, '$.type', 'tool_called') WHERE seq = 2")
    db.close()

    async def read() -> None:
        async with SQLiteStore(path) as store:
            with caplog.at_level(logging.WARNING, logger="orchestratex.stores"):
                listed = await store.list_events(session_id)
            assert [e.seq for e in listed] == [1, 3]
            assert [e.seq for e in await store.list_events(session_id, since=1, limit=1)] == [3]  # (seq 2 left out)
            assert [e.seq for e in await store.list_events(session_id, since=2)] == [3]
            assert len(caplog.records) == 1  # (once: a WebSocket polling from seq 1 read it every 0.25 s)
        assert [r.getMessage() for r in caplog.records] == [
            f"event 2 of session {session_id} ('tool_called') is stored in a form this version of OrchestrateX cannot"
            " read (written by another version, or edited by hand): Input tag 'tool_called' found using 'type' does"
            " not match any of the expected tags: 'orchestration_started', 'model_selected', 'response_generated',"
            " 'evaluation_completed', 'orchestration_completed', 'orchestration_failed'; it is left out"
        ]

    asyncio.run(read())
    show = run_cli("runs", "show", oid, "--store", f"sqlite:///{path}", cwd=tmp_path)
    assert show.returncode == 0 and "the answer" in show.stdout, show


def test_a_page_of_events_goes_on_past_one_this_version_cannot_read(tmp_path: Path) -> None:
    # `list_events(since, limit)` counted an unreadable event in its `limit`: a page with one came back short, which a
    # caller paging by `since` (`if len(page) < limit: break`, as the WebSocket's replay does) takes for the end of
    # the stream, and a page of unreadable events only came back empty, where any caller stops. The replay of such a
    # session on the WebSocket sends every other event, once.
    from fastapi.testclient import TestClient

    from orchestratex import Orchestrator
    from orchestratex.server import ServerSettings, create_app, issue_api_key

    path = tmp_path / "runs.db"

    async def history() -> tuple[str, str]:
        async with SQLiteStore(path) as store:
            orchestrator = Orchestrator(simulate=True, store=store)
            session = await orchestrator.create_session("ada", max_iterations=1, judging="when_needed")
            for i in range(4):
                await orchestrator.run(f"Name a colour, number {i}.", session=session)
            return session.id, await issue_api_key(store, "ada")

    sid, key = asyncio.run(history())
    with sqlite3.connect(path) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM events WHERE session_id = ?", (sid,)).fetchone()
        db.execute("UPDATE events SET doc = json_set(doc, '$.type', 'tool_called') WHERE seq = 2")
    db.close()
    assert count > 8

    async def page() -> list[int]:
        async with SQLiteStore(path) as store:
            return [e.seq for e in await store.list_events(sid, since=1, limit=2)]

    assert asyncio.run(page()) == [3, 4]  # (a page of `limit` events when there are that many)
    with TestClient(create_app(SQLiteStore(path), settings=ServerSettings(heartbeat_s=0.5))) as client:
        with client.websocket_connect(f"/ws/{sid}?token={key}") as ws:
            seen = []
            while (message := ws.receive_json())["type"] != "heartbeat":
                seen.append(message["seq"])
    assert seen == [1, *range(3, count + 1)]
