"""A user's own `/v1` session outlives the server that made it: `orchestratex/auto` keeps running with the server's
defaults of now, not those of when the session was made (it is an ordinary session, whose `max_iterations` was fixed
then)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openai import OpenAI

from orchestratex import Orchestrator
from orchestratex.server import create_app, issue_api_key
from orchestratex.stores import SQLiteStore

from .conftest import FAST

ASK: Any = [{"role": "user", "content": "Write a haiku about tides"}]


def _serve(store: SQLiteStore, max_iterations: int) -> TestClient:
    orchestrator = Orchestrator(store=store, max_iterations=max_iterations, evaluation_threshold=10)
    return TestClient(create_app(store, orchestrator=orchestrator))


def _settings(http: TestClient, key: str, oid: str) -> dict[str, Any]:
    r = http.get(f"/api/orchestration/status/{oid}", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json()["settings"]  # type: ignore[no-any-return]


def test_a_restarted_server_s_default_max_iterations_applies_in_the_v1_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "server.db"
    store = SQLiteStore(path)
    with _serve(store, max_iterations=5) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        first = client.chat.completions.create(model="orchestratex/auto", messages=ASK).model_extra["orchestratex"]  # type: ignore[index]
        assert _settings(http, key, first["orchestration_id"])["max_iterations"] == 5
        own = http.post("/api/sessions/", json={"max_iterations": 2}, headers={"Authorization": f"Bearer {key}"})
        assert own.status_code == 201, own.text
    with _serve(
        SQLiteStore(path), max_iterations=1
    ) as http:  # the same store, served again with a default of one attempt
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        again = client.chat.completions.create(model="orchestratex/auto", messages=ASK).model_extra["orchestratex"]  # type: ignore[index]
        assert again["session_id"] == first["session_id"]  # (the same /v1 session)
        assert _settings(http, key, again["orchestration_id"])["max_iterations"] == 1
        assert again["iterations"] == 1
        on_thread = client.chat.completions.create(
            model="orchestratex/auto", messages=ASK, extra_body={"thread_id": first["thread_id"]}
        ).model_extra["orchestratex"]  # type: ignore[index]
        assert _settings(http, key, on_thread["orchestration_id"])["max_iterations"] == 1
        # a session the user made keeps its own, and a request's setting still wins
        mine = client.chat.completions.create(
            model="orchestratex/auto", messages=ASK, extra_body={"session_id": own.json()["_id"]}
        ).model_extra["orchestratex"]  # type: ignore[index]
        assert _settings(http, key, mine["orchestration_id"])["max_iterations"] == 2
        asked = client.chat.completions.create(
            model="orchestratex/auto", messages=ASK, extra_body={"max_iterations": 3}
        ).model_extra["orchestratex"]  # type: ignore[index]
        assert _settings(http, key, asked["orchestration_id"])["max_iterations"] == 3
