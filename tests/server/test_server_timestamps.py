"""Timestamps as the API writes them: always with six digits of microseconds, as the spec writes them."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from orchestratex import EVENT_ADAPTER, ModelSelected
from orchestratex.records import Session
from orchestratex.stores import SQLiteStore

from .server_process import ServerProcess, create_key

SPEC_FORM = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
"""`2025-08-30T09:52:58.278000` as the spec writes it, in UTC (`Z`)."""


def test_a_time_at_a_whole_second_keeps_its_microseconds_in_an_event() -> None:
    event = ModelSelected(
        orchestration_id="0" * 24,
        thread_id="1" * 24,
        session_id="2" * 24,
        model_name="sim:gpt4",
        reasoning="best for coding",
        iteration=1,
        timestamp=datetime(2026, 1, 1, 9, 52, 58, tzinfo=UTC),
    )
    text = EVENT_ADAPTER.dump_json(event)
    assert b'"timestamp":"2026-01-01T09:52:58.000000Z"' in text
    assert EVENT_ADAPTER.validate_json(text) == event


@pytest.mark.slow
def test_a_document_stored_at_a_whole_second_is_answered_in_the_spec_form(tmp_path: Path) -> None:
    """One time in a million falls on a whole second: such a session was answered
    `"created_at": "2026-01-01T09:52:58Z"`, which a client parsing the one form of every other time could not read."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    whole = datetime(2026, 1, 1, 9, 52, 58, tzinfo=UTC)

    async def seed() -> str:
        async with SQLiteStore(tmp_path / "server.db") as store:
            session = await store.create_session(Session(user_id="alice", created_at=whole, updated_at=whole))
        return session.id

    sid = asyncio.run(seed())
    with ServerProcess(url, tmp_path) as server:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}) as client:
            one = client.get(f"/api/sessions/{sid}").json()
            listed = client.get("/api/sessions/user/alice").json()
            ended = client.patch(f"/api/sessions/{sid}/status", json={"status": "completed"}).json()
    assert one["created_at"] == one["updated_at"] == "2026-01-01T09:52:58.000000Z"
    assert listed[0]["created_at"] == "2026-01-01T09:52:58.000000Z"
    for doc in (one, listed[0], ended):
        assert all(SPEC_FORM.fullmatch(doc[name]) for name in ("created_at", "updated_at", "session_start")), doc


@pytest.mark.slow
def test_a_new_document_was_updated_at_the_instant_it_was_created(tmp_path: Path) -> None:
    """Each time was read from the clock on its own, so a new session said it was updated a few microseconds after
    it was created, and started after that: `updated_at == created_at`, a client's test for "never changed", failed."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    with ServerProcess(url, tmp_path, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.01"}) as server:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}) as client:
            session = client.post("/api/sessions/", json={"max_iterations": 1}).json()
            thread = client.post("/api/threads/", json={"session_id": session["_id"], "original_prompt": "Hi"}).json()
            started = client.post("/api/orchestration/start", json={"thread_id": thread["_id"]}).json()
            again = client.get(f"/api/sessions/{session['_id']}").json()
    assert session["created_at"] == session["updated_at"] == session["session_start"]
    assert thread["created_at"] == thread["updated_at"]
    assert started["created_at"] == started["updated_at"]
    assert again["session_start"] == again["created_at"]
