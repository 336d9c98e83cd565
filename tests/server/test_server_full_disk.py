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


def test_readiness_answers_503_while_the_disk_is_full_and_200_once_space_is_freed(
    small_disk: Path, tmp_path: Path
) -> None:
    """A load balancer kept sending runs to a server whose every write failed on a full disk: `/health/ready` said
    200, since its store still answered reads. A write that failed so makes it 503 until space is freed."""
    url = f"sqlite:///{small_disk / 'server.db'}"
    headers = {"Authorization": f"Bearer {create_key(url, 'alice')}"}
    with ServerProcess(url, tmp_path, env=FAST) as server:
        session = httpx.post(f"{server.base_url}/api/sessions/", json={}, headers=headers)
        assert session.status_code == 201, session.text
        thread = {"session_id": session.json()["_id"], "original_prompt": "x" * 200_000}
        assert httpx.get(f"{server.base_url}/health/ready").json() == {"status": "ready", "store": "ok"}
        filler = fill_disk(small_disk)
        assert httpx.get(f"{server.base_url}/health/ready").status_code == 200  # (nothing failed yet: no write made)

        assert httpx.post(f"{server.base_url}/api/threads/", json=thread, headers=headers).status_code == 507
        for _ in range(2):  # (each probe, not only the first after the failure)
            not_ready = httpx.get(f"{server.base_url}/health/ready")
            assert not_ready.status_code == 503, not_ready.text
            assert not_ready.json() == {
                "detail": "not ready: the store's disk is full: its writes fail; free some space",
                "status_code": 503,
                "store": "full",
            }
        assert str(small_disk) not in not_ready.text
        assert httpx.get(f"{server.base_url}/health").status_code == 200  # alive: a restart would not free the disk
        log = server.log()
        assert log.count("not ready: the store's disk is full") == 1, log
        assert str(small_disk) in log.split("not ready: the store's disk is full")[1].splitlines()[0], log

        filler.unlink()
        assert httpx.get(f"{server.base_url}/health/ready").json() == {"status": "ready", "store": "ok"}
        assert "ready again: the store answers" in server.log()
        assert httpx.post(f"{server.base_url}/api/threads/", json=thread, headers=headers).status_code == 201
