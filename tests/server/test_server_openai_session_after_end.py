"""Calls that arrive together right after a user ended their `/v1` session all run in one new session.

Each call that found the session ended used to move the user's generation counter on by one, so two calls after the
end opened two new sessions (three calls, three), and the user's next calls went on in the last of them: the runs
were split across sessions, their budgets and rate limits each counted apart."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openai import OpenAI

from orchestratex.server import create_app, issue_api_key
from orchestratex.server._openai_chat import DefaultSessions
from orchestratex.stores import SQLiteStore

from .conftest import FAST

ASK: Any = [{"role": "user", "content": "Name a prime"}]


def _session_of(client: OpenAI) -> str:
    reply = client.chat.completions.create(model="orchestratex/fast", messages=ASK)
    return reply.model_extra["orchestratex"]["session_id"]  # type: ignore[index,no-any-return]


def test_calls_together_after_the_session_ended_share_one_new_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    store = SQLiteStore(tmp_path / "server.db")
    with TestClient(create_app(store)) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        for _ in range(2):  # (twice: the second end is of a session the first one's calls opened)
            ended = _session_of(client)
            r = http.patch(
                f"/api/sessions/{ended}/status",
                json={"status": "completed"},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert r.status_code == 200, r.text
            with ThreadPoolExecutor(4) as pool:
                sessions = set(pool.map(lambda _: _session_of(client), range(4)))
            assert len(sessions) == 1, sessions
            assert ended not in sessions
            assert _session_of(client) in sessions  # (and the user's next call goes on there)


async def test_servers_sharing_a_store_open_one_session_after_the_end(tmp_path: Path) -> None:
    """Two server processes on one store (two `DefaultSessions`), each with calls right after the end."""
    store = SQLiteStore(tmp_path / "server.db")
    async with store:
        one, two = (DefaultSessions(create_app(store).state.server) for _ in range(2))
        first = await one.get("alice")
        assert (await two.get("alice")).id == first.id
        await store.set_session_status(first.id, "completed")
        opened = await asyncio.gather(one.get("alice"), two.get("alice"), one.get("alice"), two.get("alice"))
        assert len({s.id for s in opened}) == 1
        assert opened[0].id != first.id
        assert (await two.get("alice")).id == (await one.get("alice")).id == opened[0].id
