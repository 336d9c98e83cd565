"""The OpenAPI schema: served at /openapi.json and /docs, with exactly the spec's operations."""

from __future__ import annotations

from collections.abc import Callable

from .conftest import Api

SPEC_OPERATIONS = {
    ("post", "/api/sessions/"),
    ("get", "/api/sessions/{session_id}"),
    ("get", "/api/sessions/user/{user_id}"),
    ("patch", "/api/sessions/{session_id}/status"),
    ("post", "/api/threads/"),
    ("get", "/api/threads/{thread_id}"),
    ("get", "/api/threads/session/{session_id}"),
    ("post", "/api/orchestration/start"),
    ("get", "/api/orchestration/status/{orchestration_id}"),
    ("get", "/api/models/"),
    ("get", "/api/models/{model_name}"),
    ("get", "/api/analytics/session/{session_id}"),
    ("get", "/api/analytics/user/{user_id}"),
}
EXTRA_OPERATIONS = {
    ("post", "/api/orchestration/{orchestration_id}/cancel"),  # beyond the spec: stop one run
}

OPERATIONS = {
    ("get", "/health"),
    ("get", "/health/ready"),
    ("get", "/metrics"),
    ("get", "/api/admin/keys/"),
    ("delete", "/api/admin/keys/{key_id}"),
}
"""Beyond the spec: operations (issue 13)."""


def test_openapi_has_exactly_the_spec_endpoints(make_api: Callable[..., Api]) -> None:
    api = make_api()
    schema = api.client.get("/openapi.json").json()
    found = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert found == SPEC_OPERATIONS | EXTRA_OPERATIONS | OPERATIONS
    create = schema["paths"]["/api/sessions/"]["post"]["responses"]
    assert {"201", "401", "404", "413", "422", "429", "500"} <= set(create)
    assert "202" in schema["paths"]["/api/orchestration/start"]["post"]["responses"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(schema["components"]["securitySchemes"])
    session = schema["components"]["schemas"]["Session"]["properties"]
    assert {"_id", "created_at", "updated_at", "session_start", "session_end", "total_cost"} <= set(session)
    docs = api.client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
