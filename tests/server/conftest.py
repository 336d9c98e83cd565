"""Fixtures for the server tests: an app on a fresh store, a TestClient, and API keys of three callers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal
from fastapi.testclient import TestClient

from orchestratex.server import ServerSettings, create_app, issue_api_key
from orchestratex.stores import MemoryStore, SQLiteStore, Store

FAST = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}


class _ShiftedClock:
    """The `time` module, with `time()` moved by `shift` seconds."""

    def __init__(self, shift: float) -> None:
        self.shift = shift

    def time(self) -> float:
        return time.time() + self.shift

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def limit_windows_begin_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """The limits count in fixed windows of the wall clock (60 s for the rates, 30 s for starts), so a test
    counting up to a limit failed when a window happened to end in the middle of it (the third request of a
    limit of 2 then counts as the first of a new window). The in-process limiters' clock is shifted so that a
    window begins now; it runs on at its own pace, so the next window is about a minute away."""
    from orchestratex.server import _auth_limit, _limits

    clock = _ShiftedClock(0.5 - time.time() % 60)
    monkeypatch.setattr(_limits, "time", clock)
    monkeypatch.setattr(_auth_limit, "time", clock)


def in_app_loop(client: TestClient) -> BlockingPortal:
    """The started TestClient's portal, which runs a function in the app's event loop."""
    assert client.portal is not None, "start the TestClient first (`with client:` or `client.__enter__()`)"
    return client.portal


@dataclass
class Api:
    """A running app with a TestClient and the headers of alice, bob (users) and an admin."""

    client: TestClient
    store: Store
    alice: dict[str, str]
    bob: dict[str, str]
    admin: dict[str, str]
    keys: dict[str, str]

    def session(self, who: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
        r = self.client.post("/api/sessions/", json=body, headers=who or self.alice)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    def thread(self, session_id: str, who: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
        body = {"session_id": session_id, "original_prompt": "Write a Python function to reverse a string", **body}
        r = self.client.post("/api/threads/", json=body, headers=who or self.alice)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    def start(self, thread_id: str, who: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
        r = self.client.post(
            "/api/orchestration/start", json={"thread_id": thread_id, **body}, headers=who or self.alice
        )
        assert r.status_code == 202, r.text
        return r.json()  # type: ignore[no-any-return]

    def wait(self, orchestration_id: str, who: dict[str, str] | None = None, timeout: float = 30.0) -> dict[str, Any]:
        """Poll the status until the orchestration ends; returns the final document."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.client.get(f"/api/orchestration/status/{orchestration_id}", headers=who or self.alice)
            assert r.status_code == 200, r.text
            doc: dict[str, Any] = r.json()
            if doc["status"] in ("completed", "failed", "cancelled"):
                return doc
            time.sleep(0.02)
        raise AssertionError(f"orchestration {orchestration_id} did not end in {timeout} s")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def make_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Api]]:
    """`make_api(store=..., env=..., **settings)` starts an app; every one started is shut down after the test."""
    clients: list[TestClient] = []

    def make(store: Store | None = None, env: dict[str, str] | None = None, **settings: Any) -> Api:
        for name, value in {**FAST, **(env or {})}.items():
            monkeypatch.setenv(name, value)
        limit_windows_begin_now(monkeypatch)
        store = store if store is not None else SQLiteStore(":memory:")
        settings.setdefault("heartbeat_s", 0.2)  # a stream that stalls shows up as heartbeats, never as a hang
        app = create_app(store, settings=ServerSettings(**settings))
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        keys = {
            "alice": in_app_loop(client).call(issue_api_key, store, "alice"),
            "bob": in_app_loop(client).call(issue_api_key, store, "bob"),
        }
        keys["admin"] = in_app_loop(client).call(lambda: issue_api_key(store, "root", admin=True))
        return Api(client, store, bearer(keys["alice"]), bearer(keys["bob"]), bearer(keys["admin"]), keys)

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture(params=["sqlite", "memory"])
def api(request: pytest.FixtureRequest, make_api: Callable[..., Api]) -> Api:
    """The app on a SQLite (in memory) and on a MemoryStore."""
    return make_api(SQLiteStore(":memory:") if request.param == "sqlite" else MemoryStore())
