"""A server whose SQLite database is on a full disk: a write was answered 503 "the database is unavailable (busy or
unreachable): retry in 1 s", which sent clients to retry every second and operators to look for a lock, while only
the server's log said SQLITE_FULL. It is now answered 507 saying that the disk is full, on `/api` and `/v1`.

The disk is a small tmpfs mounted for the test (root with the right to mount; skipped elsewhere)."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from ..conftest import fill_disk
from .conftest import FAST
from .server_process import ServerProcess, create_key

DISK_FULL = "the server's disk is full: nothing was written; retry once its operator has freed some space"


def test_a_write_on_a_full_disk_is_answered_507_saying_so_and_loses_nothing(small_disk: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{small_disk / 'server.db'}"
    headers = {"Authorization": f"Bearer {create_key(url, 'alice')}"}
    with ServerProcess(url, tmp_path, env=FAST) as server:
        session = httpx.post(f"{server.base_url}/api/sessions/", json={}, headers=headers)
        assert session.status_code == 201, session.text
        thread = {"session_id": session.json()["_id"], "original_prompt": "x" * 200_000}
        filler = fill_disk(small_disk)

        refused = httpx.post(f"{server.base_url}/api/threads/", json=thread, headers=headers)

        assert refused.status_code == 507, refused.text
        assert refused.json() == {"detail": DISK_FULL, "status_code": 507}
        assert "retry-after" not in refused.headers
        client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=headers["Authorization"][7:], max_retries=0)
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model="orchestratex/auto", messages=[{"role": "user", "content": "Hi"}])
        assert caught.value.status_code == 507
        assert caught.value.message == f"Error code: 507 - {DISK_FULL}"
        assert caught.value.code == "disk_full"
        assert caught.value.response.headers["x-should-retry"] == "false"
        log = server.log()
        assert "POST /api/threads/ answered 507: the SQLite database cannot be written: its disk is full" in log, log

        filler.unlink()
        stored = httpx.post(f"{server.base_url}/api/threads/", json=thread, headers=headers)
        assert stored.status_code == 201, stored.text
        listed = httpx.get(f"{server.base_url}/api/threads/session/{thread['session_id']}", headers=headers)
        assert [t["original_prompt"] for t in listed.json()] == [thread["original_prompt"]]
