"""Two servers on one store: a run one of them has just accepted is not the other's to resume."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestratex.records import Orchestration
from orchestratex.server import ServerSettings, create_app, issue_api_key
from orchestratex.stores import SQLiteStore

from .conftest import bearer

_STORED, _LOOKED = threading.Event(), threading.Event()


class _Resuming(SQLiteStore):
    """The other server's store: says when it has looked for runs to resume since the call was stored, and (when it
    found the call's run) claimed it."""

    async def list_resumable(self, *, limit: int = 100) -> list[str]:
        stored = _STORED.is_set()
        found = await super().list_resumable(limit=limit)
        if stored and not found:
            _LOOKED.set()
        return found

    async def claim(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        try:
            return await super().claim(orchestration_id, owner, ttl_s)
        finally:
            _LOOKED.set()


def test_a_call_is_answered_by_its_server_when_another_looks_for_runs_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run was stored `pending` without a lease, then claimed by the run: another server whose resume pass fell
    in between took it as "left by a stopped process" and ran it, and the server that had accepted the call failed
    it. The accepting server holds its lease from the moment it stores the run."""
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    _STORED.clear()
    _LOOKED.clear()
    path = tmp_path / "shared.db"

    async def make_key() -> str:
        async with SQLiteStore(path) as store:
            return await issue_api_key(store, "alice")

    key = asyncio.run(make_key())
    settings = ServerSettings(resume_interval_s=0.05)
    with (
        TestClient(create_app(_Resuming(path), settings=settings)) as other,
        TestClient(create_app(SQLiteStore(path), settings=settings)) as accepting,
    ):
        runner = accepting.app.state.server.runner  # type: ignore[attr-defined]
        launch = runner.launch

        def launched_once_the_other_looked(*args: Any, **kwargs: Any) -> Any:
            """The run begins (and claims its lease) once the other server has looked for runs to resume, and taken
            this one if it found it (as when its look falls between the two)."""
            _STORED.set()
            _LOOKED.wait(30)
            return launch(*args, **kwargs)

        monkeypatch.setattr(runner, "launch", launched_once_the_other_looked)
        body = {"model": "orchestratex/fast", "messages": [{"role": "user", "content": "Explain DNS"}]}
        answered = accepting.post("/v1/chat/completions", json=body, headers=bearer(key))
        assert _LOOKED.is_set()  # (the other server looked while the run was claiming its lease)
        assert answered.status_code == 200, answered.text
        assert answered.json()["choices"][0]["message"]["content"]
        oid = answered.json()["orchestratex"]["orchestration_id"]
        assert other.app.state.server.runner.running == 0  # type: ignore[attr-defined]
    doc = asyncio.run(_stored(path, oid))
    assert doc.status == "completed"


async def _stored(path: Path, oid: str) -> Orchestration:
    async with SQLiteStore(path) as store:
        return await store.get_orchestration(oid)


def test_a_run_accepted_once_the_stop_hands_runs_back_is_left_for_the_next_server_at_once(tmp_path: Path) -> None:
    """Accepted after the stop's grace period (the runs handed back), a run is not begun here: it is stored without
    a lease, so the next server on the store resumes it at once, not once a lease nobody renews has expired."""
    path = tmp_path / "stopping.db"

    async def make_key() -> str:
        async with SQLiteStore(path) as store:
            return await issue_api_key(store, "alice")

    key = asyncio.run(make_key())
    with TestClient(create_app(SQLiteStore(path), settings=ServerSettings())) as client:
        client.app.state.server.runner._handing_back = True  # type: ignore[attr-defined]  # (as once the grace ended)
        sid = client.post("/api/sessions/", json={}, headers=bearer(key)).json()["_id"]
        body = {"session_id": sid, "original_prompt": "Explain DNS"}
        tid = client.post("/api/threads/", json=body, headers=bearer(key)).json()["_id"]
        started = client.post("/api/orchestration/start", json={"thread_id": tid}, headers=bearer(key))
        assert started.status_code == 202, started.text

    async def resumable() -> list[str]:
        async with SQLiteStore(path) as store:
            return await store.list_resumable()

    assert asyncio.run(resumable()) == [started.json()["_id"]]
