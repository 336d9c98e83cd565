"""A MongoDB server whose disk is full refuses writes with `OutOfDiskSpace` (code 14031): that is `StoreFull`, as
SQLite's full disk is — the orchestrator retries it as unavailable and a run that cannot record its step ends
`failed` naming it; the server answers 507 saying the disk is full. It was a plain `StoreError` (a 500)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pymongo.errors import BulkWriteError, OperationFailure, WriteError

from orchestratex import Orchestrator
from orchestratex.exceptions import StoreError, StoreFull
from orchestratex.records import Session, SessionSettings
from orchestratex.server import ServerSettings, create_app, issue_api_key
from orchestratex_mongodb import MongoStore

_FULL = "Insufficient disk space to perform operation"


def _write_refused() -> WriteError:
    return WriteError(_FULL, code=14031, details={"code": 14031, "errmsg": _FULL})


async def test_a_write_refused_for_a_full_disk_is_store_full_and_writes_nothing(
    mock_client_factory: Callable[[], Any],
) -> None:
    client = mock_client_factory()
    async with MongoStore(client=client, retry_backoff_s=0) as store:
        client.faults.fail("sessions", "insert_one", _write_refused())
        with pytest.raises(StoreFull, match=r"disk is full \(OutOfDiskSpace\)"):
            await store.create_session(Session(user_id="alice", settings=SessionSettings()))
        assert await store.list_sessions("alice") == []
        made = await store.create_session(Session(user_id="alice", settings=SessionSettings()))  # space freed
        assert [s.id for s in await store.list_sessions("alice")] == [made.id]


async def test_a_bulk_write_with_one_error_for_a_full_disk_is_store_full(
    mock_client_factory: Callable[[], Any],
) -> None:
    client = mock_client_factory()
    bulk = BulkWriteError({"writeErrors": [{"index": 0, "code": 14031, "errmsg": _FULL}], "nInserted": 0})
    async with MongoStore(client=client, retry_backoff_s=0) as store:
        client.faults.fail("sessions", "insert_one", bulk)
        with pytest.raises(StoreFull):
            await store.create_session(Session(user_id="alice", settings=SessionSettings()))


async def test_other_refusals_stay_store_errors(mock_client_factory: Callable[[], Any]) -> None:
    client = mock_client_factory()
    async with MongoStore(client=client, retry_backoff_s=0) as store:
        client.faults.fail("sessions", "insert_one", OperationFailure("not authorized on orchestratex", code=13))
        with pytest.raises(StoreError, match="not authorized") as caught:
            await store.create_session(Session(user_id="alice", settings=SessionSettings()))
        assert not isinstance(caught.value, StoreFull)


async def test_a_run_whose_commits_find_the_disk_full_ends_failed_naming_it(
    mock_client_factory: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    client = mock_client_factory()
    async with MongoStore(client=client, retry_backoff_s=0) as store:
        orchestrator = Orchestrator(simulate=True, store=store)
        try:
            session = await orchestrator.create_session("alice", cost_limit=1.0)
            # a step's journal entry is refused at each of its 6 attempts (the disk filled mid-run), then space is
            # freed and the run's ending is recorded
            client.faults.fail("commits", "insert_one", _write_refused(), times=6)
            result = await orchestrator.run("Sort a list in Python", session=session)
        finally:
            await orchestrator.aclose()
        assert result.status == "failed"
        assert "StoreFull" in (result.orchestration.error or ""), result.orchestration.error


def test_the_server_answers_507_when_mongodb_s_disk_is_full(
    mock_client_factory: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    client = mock_client_factory()
    store = MongoStore(client=client, retry_backoff_s=0)
    with TestClient(create_app(store, settings=ServerSettings())) as http:
        assert http.portal is not None
        alice = {"Authorization": f"Bearer {http.portal.call(issue_api_key, store, 'alice')}"}
        client.faults.fail("sessions", "insert_one", _write_refused(), times=1000)
        refused = http.post("/api/sessions/", json={"settings": {"cost_limit": 0.5}}, headers=alice)
        assert refused.status_code == 507, refused.text
        assert "disk is full" in refused.json()["detail"]
        client.faults.pending.clear()
        made = http.post("/api/sessions/", json={"settings": {"cost_limit": 0.5}}, headers=alice)
        assert made.status_code == 201, made.text


def test_readiness_answers_503_while_mongodb_s_disk_is_full_and_200_once_a_write_goes_through(
    mock_client_factory: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`/health/ready` answered 200 while every write was refused for a full disk (answered 507): its ping only read,
    so the load balancer kept sending runs that could not be stored. A write refused so now makes the probe write
    too, 503 `"store": "full"` while that is refused, ready again once it goes through; a ready store's probe writes
    nothing."""
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    client = mock_client_factory()
    store = MongoStore(client=client, retry_backoff_s=0)
    with TestClient(create_app(store, settings=ServerSettings())) as http:
        assert http.portal is not None
        alice = {"Authorization": f"Bearer {http.portal.call(issue_api_key, store, 'alice')}"}
        assert http.get("/health/ready").json() == {"status": "ready", "store": "ok"}
        assert "counters.update_one" not in client.faults.calls

        client.faults.fail("sessions", "insert_one", _write_refused())
        assert http.post("/api/sessions/", json={}, headers=alice).status_code == 507
        client.faults.fail("counters", "update_one", _write_refused(), times=2)
        for _ in range(2):  # (each probe, while writes are refused)
            not_ready = http.get("/health/ready")
            assert not_ready.status_code == 503, not_ready.text
            assert not_ready.json() == {
                "detail": "not ready: the store's disk is full: its writes fail; free some space",
                "status_code": 503,
                "store": "full",
            }

        assert http.get("/health/ready").json() == {"status": "ready", "store": "ok"}  # (room again: written)
        written = client.faults.calls["counters.update_one"]
        assert http.get("/health/ready").status_code == 200
        assert client.faults.calls["counters.update_one"] == written  # (ready: no write)
        assert http.post("/api/sessions/", json={}, headers=alice).status_code == 201
