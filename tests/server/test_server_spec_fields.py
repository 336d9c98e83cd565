"""The API spec's examples read field by field against a real `orchestratex serve` process: every field an example
shows is in the answer, with the JSON type the example gives it (a number where it shows a number, `null` where it
shows `null`), for each route and each WebSocket event type the spec documents, and every error is its error body."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from .server_process import ServerProcess, create_key

pytestmark = pytest.mark.slow

TIME = "2025-08-30T09:52:58.278000"
SESSION_BODY = {
    "user_id": "test_user_123",
    "max_iterations": 5,
    "settings": {"preferred_models": ["gpt4", "claude"], "cost_limit": 10.0},
}
SESSION = {
    "_id": "68b2c9faa82de4230e87701c",
    "user_id": "test_user_123",
    "session_start": TIME,
    "session_end": None,
    "max_iterations": 5,
    "status": "active",
    "total_cost": 0.0,
    "settings": {"preferred_models": ["gpt4", "claude"], "cost_limit": 10.0},
    "created_at": TIME,
}
COMMON = {"_id": "68b2c9faa82de4230e87701c", "created_at": TIME, "updated_at": TIME}
THREAD_BODY = {
    "original_prompt": "Write a Python function to calculate fibonacci numbers",
    "domain": "coding",
    "context": "This is for a beginner programming tutorial",
}
START_SETTINGS = {"max_iterations": 5, "preferred_models": ["gpt4", "claude"], "evaluation_threshold": 8.0}
MODEL = {
    "name": "gpt4",
    "provider": "openai",
    "version": "gpt-4-0125-preview",
    "specialties": ["coding", "analysis", "general"],
    "cost_per_1k_tokens": 0.03,
    "context_window": 128000,
    "status": "active",
}
EVENTS = {
    "orchestration_started": {"type": "orchestration_started", "thread_id": "...", "timestamp": TIME},
    "model_selected": {"type": "model_selected", "model_name": "gpt4", "reasoning": "Best", "timestamp": TIME},
    "response_generated": {
        "type": "response_generated",
        "model_name": "gpt4",
        "response_preview": "def fibonacci(n):",
        "tokens_used": 150,
        "timestamp": TIME,
    },
    "evaluation_completed": {
        "type": "evaluation_completed",
        "evaluator_model": "claude",
        "score": 8.5,
        "feedback": "Good implementation",
        "timestamp": TIME,
    },
    "orchestration_completed": {
        "type": "orchestration_completed",
        "final_response": "...",
        "iterations": 3,
        "final_score": 9.2,
        "total_cost": 0.15,
        "timestamp": TIME,
    },
}
ERROR = {"detail": "Error message", "status_code": 400}


def kind(value: Any) -> str:
    """The JSON type of `value` as the spec's examples write it: a number is a number, whole or not, except that a
    count the spec writes whole (`max_iterations`, `tokens_used`) must stay whole."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {str: "string", list: "array", dict: "object", type(None): "null"}[type(value)]


def deviations(example: Any, answer: Any, where: str = "") -> list[str]:
    """Where `answer` lacks a field of the spec's `example`, or gives one another JSON type."""
    if isinstance(example, dict):
        if not isinstance(answer, dict):
            return [f"{where or '.'}: {kind(answer)}, not an object"]
        found: list[str] = []
        for name, value in example.items():
            if name not in answer:
                found.append(f"{where}.{name}: missing")
            else:
                found += deviations(value, answer[name], f"{where}.{name}")
        return found
    if isinstance(example, list):
        if not isinstance(answer, list):
            return [f"{where}: {kind(answer)}, not an array"]
        return [d for item in answer for d in deviations(example[0], item, f"{where}[]")] if example else []
    expected, got = kind(example), kind(answer)
    if expected == got or (expected == "number" and got == "integer" and where.endswith("score")):
        return []
    return [f"{where}: {got}, not {expected}"]


@dataclass
class Served:
    server: ServerProcess
    client: httpx.Client
    key: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp: Path = tmp_path_factory.mktemp("spec")
    url = f"sqlite:///{tmp / 'server.db'}"
    key = create_key(url, "test_user_123")
    with (
        ServerProcess(url, tmp, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.01"}) as server,
        httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client,
    ):
        yield Served(server, client, key)


def test_the_sessions_api_answers_the_specs_fields(served: Served) -> None:
    c = served.client
    created = c.post("/api/sessions/", json=SESSION_BODY)
    assert created.status_code == 201
    assert deviations({**SESSION, **COMMON}, created.json()) == []
    sid = created.json()["_id"]
    assert deviations({**SESSION, **COMMON}, c.get(f"/api/sessions/{sid}").json()) == []
    listed = c.get("/api/sessions/user/test_user_123")
    assert listed.status_code == 200 and deviations([{**SESSION, **COMMON}], listed.json()) == []
    patched = c.patch(f"/api/sessions/{sid}/status", json={"status": "completed"})
    assert patched.status_code == 200 and patched.json()["status"] == "completed"
    assert deviations({**SESSION, **COMMON, "status": "completed", "session_end": TIME}, patched.json()) == []


def test_the_threads_orchestration_analytics_and_events_answer_the_specs_fields(served: Served) -> None:
    c = served.client
    sid = c.post("/api/sessions/", json=SESSION_BODY).json()["_id"]
    thread = c.post("/api/threads/", json={"session_id": sid, **THREAD_BODY})
    assert thread.status_code == 201
    example = {**COMMON, "session_id": sid, **THREAD_BODY}
    assert deviations(example, thread.json()) == []
    tid = thread.json()["_id"]
    assert deviations(example, c.get(f"/api/threads/{tid}").json()) == []
    assert deviations([example], c.get(f"/api/threads/session/{sid}").json()) == []

    async def events() -> list[dict[str, Any]]:
        url = f"{served.server.ws_url}/ws/{sid}?token={served.key}"
        async with websockets.connect(url, max_size=None) as ws:
            start = {"thread_id": tid, "prompt": THREAD_BODY["original_prompt"], "settings": START_SETTINGS}
            started = c.post("/api/orchestration/start", json=start)
            assert started.status_code == 202 and started.json()["status"] == "pending"
            assert deviations({**COMMON, "thread_id": tid}, started.json()) == []
            seen: list[dict[str, Any]] = []
            async for raw in ws:
                seen.append(json.loads(raw))
                if seen[-1]["type"] in ("orchestration_completed", "orchestration_failed"):
                    return seen
        raise AssertionError("the stream ended before the run")

    seen = asyncio.run(events())
    assert {e["type"] for e in seen} == set(EVENTS)
    for event in seen:
        assert deviations(EVENTS[event["type"]], event) == [], event["type"]
    oid = seen[-1]["orchestration_id"]
    status = c.get(f"/api/orchestration/status/{oid}")
    assert status.status_code == 200 and deviations({**COMMON, "thread_id": tid}, status.json()) == []
    assert status.json()["final_response"] == seen[-1]["final_response"]
    analytics = c.get(f"/api/analytics/session/{sid}")
    assert analytics.status_code == 200 and analytics.json()["total_cost"] == seen[-1]["total_cost"]
    assert c.get("/api/analytics/user/test_user_123").status_code == 200


def test_the_models_api_answers_the_specs_fields(served: Served) -> None:
    listed = served.client.get("/api/models/")
    assert listed.status_code == 200 and deviations([MODEL], listed.json()) == []
    one = served.client.get("/api/models/gpt4")
    assert one.status_code == 200 and deviations(MODEL, one.json()) == []


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/api/sessions/68b2c9faa82de4230e87701c", None, 404),
        ("POST", "/api/sessions/", {"max_iterations": "five"}, 422),
        ("POST", "/api/threads/", {"session_id": "68b2c9faa82de4230e87701c"}, 422),
        ("POST", "/api/orchestration/start", {"thread_id": "68b2c9faa82de4230e87701c"}, 404),
        ("GET", "/api/models/gpt9", None, 404),
        ("PATCH", "/api/sessions/68b2c9faa82de4230e87701c/status", {"status": "done"}, 422),
    ],
)
def test_every_error_is_the_specs_error_body(
    served: Served, method: str, path: str, body: dict[str, Any] | None, status: int
) -> None:
    answer = served.client.request(method, path, json=body)
    assert answer.status_code == status
    assert deviations(ERROR, answer.json()) == [] and answer.json()["status_code"] == status
    no_key = httpx.request(method, served.server.base_url + path, json=body)
    assert no_key.status_code == 401 and deviations(ERROR, no_key.json()) == []
