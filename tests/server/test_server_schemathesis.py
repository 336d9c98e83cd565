"""Schemathesis over /openapi.json: no 5xx and no answer outside the schema, for every operation."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from orchestratex import Orchestrator
from orchestratex.server import ServerSettings, create_app, issue_api_key
from orchestratex.stores import SQLiteStore

from .test_server_openapi import SPEC_OPERATIONS

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis belongs in the dev extra")

from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core import NOT_SET  # noqa: E402
from schemathesis.python.asgi import shutdown_lifespans  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, str], dict[str, str]]]:
    """An app on a SQLite file holding an admin key, a session and a thread; schemathesis runs its lifespan."""
    path = tmp_path_factory.mktemp("openapi") / "server.db"

    async def prepare() -> tuple[str, dict[str, str]]:
        async with SQLiteStore(path) as store:
            async with Orchestrator(store=store) as orchestrator:  # (closed: it gives up the lease of what it prepared)
                session = await orchestrator.create_session("alice")
                thread = await orchestrator.create_thread(session.id, "Write a haiku about the sea")
                pending = await orchestrator.prepare(thread.original_prompt, thread=thread)  # resumed by the app
            ids = {"session_id": session.id, "thread_id": thread.id, "orchestration_id": pending.id}
            return await issue_api_key(store, "root", admin=True), ids

    key, ids = asyncio.run(prepare())
    os.environ["ORCHESTRATEX_SIM_LATENCY_SCALE"] = "0"
    try:
        app = create_app(SQLiteStore(path), settings=ServerSettings(rate_limit=1_000_000))
        yield schemathesis.openapi.from_asgi("/openapi.json", app), {"Authorization": f"Bearer {key}"}, ids
    finally:
        del os.environ["ORCHESTRATEX_SIM_LATENCY_SCALE"]
        shutdown_lifespans()


@pytest.mark.parametrize(("method", "path"), sorted(SPEC_OPERATIONS))
def test_no_server_error_and_no_answer_outside_the_schema(
    fuzzed: tuple[Any, dict[str, str], dict[str, str]], method: str, path: str
) -> None:
    schema, headers, ids = fuzzed
    operation = schema[path][method.upper()]
    checks = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]

    @given(case=operation.as_strategy())
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=checks)

    check()
    known = {**ids, "user_id": "alice", "model_name": "gpt4"}
    bodies = {
        "/api/sessions/": {"user_id": "alice", "settings": {"cost_limit": 1.0}},
        "/api/sessions/{session_id}/status": {"status": "active"},
        "/api/threads/": {"session_id": ids["session_id"], "original_prompt": "Explain tides"},
        "/api/orchestration/start": {"thread_id": ids["thread_id"]},
    }
    params = {name: known[name] for name in known if "{" + name + "}" in path}
    case = operation.Case(path_parameters=params or None, body=bodies.get(path, NOT_SET))
    response = case.call_and_validate(headers=headers, checks=checks)
    assert response.status_code < 300, response.text
