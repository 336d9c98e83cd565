"""The REST + WebSocket server on `MongoStore` (mongomock stand-in), as it runs with `--store mongodb://…`:
keys, sessions, threads, a background orchestration, its live and replayed events, status and analytics."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal
from fastapi.testclient import TestClient

from orchestratex.server import ServerSettings, create_app, issue_api_key
from orchestratex_mongodb import MongoStore

TERMINAL = ("orchestration_completed", "orchestration_failed")


def _until_end(ws: Any) -> list[dict[str, Any]]:
    events = []
    while True:
        message = json.loads(ws.receive_text())
        if message["type"] != "heartbeat":
            events.append(message)
            if message["type"] in TERMINAL:
                return events


def _in_app_loop(client: TestClient) -> BlockingPortal:
    assert client.portal is not None, "start the TestClient first"
    return client.portal


def test_the_server_runs_on_mongodb(monkeypatch: pytest.MonkeyPatch, mock_client_factory: Callable[[], Any]) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    store = MongoStore(client=mock_client_factory())
    with TestClient(create_app(store, settings=ServerSettings())) as client:
        alice = {"Authorization": f"Bearer {_in_app_loop(client).call(issue_api_key, store, 'alice')}"}
        session = client.post("/api/sessions/", json={"settings": {"cost_limit": 0.5}}, headers=alice)
        assert session.status_code == 201, session.text
        sid = session.json()["_id"]
        thread = client.post("/api/threads/", json={"session_id": sid, "original_prompt": "Sort a list"}, headers=alice)
        assert thread.status_code == 201, thread.text
        tid = thread.json()["_id"]
        with client.websocket_connect(f"/ws/{sid}", headers=alice) as ws:
            started = client.post("/api/orchestration/start", json={"thread_id": tid}, headers=alice)
            assert started.status_code == 202, started.text
            oid = started.json()["_id"]
            live = _until_end(ws)
        assert [e["seq"] for e in live] == list(range(1, len(live) + 1))
        assert live[0]["type"] == "orchestration_started" and live[-1]["type"] == "orchestration_completed"
        deadline = time.monotonic() + 30
        while (doc := client.get(f"/api/orchestration/status/{oid}", headers=alice).json())["status"] != "completed":
            assert time.monotonic() < deadline, doc
            time.sleep(0.02)
        assert doc["final_response"] and doc["total_cost"] <= 0.5
        with client.websocket_connect(f"/ws/{sid}?since=2", headers=alice) as ws:
            assert _until_end(ws) == live[2:]
        analytics = client.get(f"/api/analytics/session/{sid}", headers=alice)
        assert analytics.status_code == 200, analytics.text
        assert client.get(f"/api/sessions/{sid}", headers=alice).json()["total_cost"] == doc["total_cost"]
        bob = {"Authorization": f"Bearer {_in_app_loop(client).call(issue_api_key, store, 'bob')}"}
        assert client.get(f"/api/orchestration/status/{oid}", headers=bob).status_code == 404


def test_readiness_does_not_tell_anyone_where_the_database_is(
    monkeypatch: pytest.MonkeyPatch, mock_client_factory: Callable[[], Any], caplog: pytest.LogCaptureFixture
) -> None:
    """`GET /health/ready` needs no key, and its 503 for an unreachable MongoDB gave the store's message whole:
    `MongoDB at mongodb://app:***@db.internal:27017/ox is unavailable (…): db.internal:27017: [Errno 111] …`, the
    database's user, host and port (and PyMongo's report of its servers) to anyone who asked. The log keeps them."""
    import logging

    from pymongo.errors import AutoReconnect

    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    client = mock_client_factory()
    store = MongoStore("mongodb://app:s3cret@db.internal:27017/ox", retries=0)
    monkeypatch.setattr(store, "_make_client", lambda: client)
    with TestClient(create_app(store, settings=ServerSettings())) as http:
        assert http.get("/health/ready").status_code == 200
        down = AutoReconnect("db.internal:27017: [Errno 111] Connection refused")
        client.faults.fail("api_keys", "find_one", down, times=5)
        caplog.set_level(logging.WARNING, logger="orchestratex.server")
        r = http.get("/health/ready")
    assert r.status_code == 503 and r.json()["store"] == "unreachable"
    detail = r.json()["detail"]
    assert detail.startswith("not ready: the store is unreachable")
    assert "db.internal" not in r.text and "app" not in detail and "27017" not in r.text
    assert "mongodb://app:***@db.internal:27017/ox" in caplog.text and "s3cret" not in caplog.text
