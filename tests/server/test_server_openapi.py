"""The OpenAPI schema: served at /openapi.json and /docs, with exactly the spec's operations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


def _missing(doc: Any, name: str, schemas: dict[str, Any]) -> list[str]:
    """The required fields of schema `name` (and of the schemas its fields name) that `doc` lacks."""
    schema = schemas[name]
    missing = [f"{name}.{field}" for field in schema.get("required", []) if field not in doc]
    for field, prop in schema.get("properties", {}).items():
        ref = prop.get("$ref") or prop.get("items", {}).get("$ref")
        value = doc.get(field)
        if ref and value is not None:
            for item in value if isinstance(value, list) else [value]:
                missing += _missing(item, ref.rsplit("/", 1)[1], schemas)
    return missing


def test_the_schema_says_answers_carry_every_field_of_their_documents(api: Api) -> None:
    """`_id`, `created_at`, `updated_at` (and every field with a default) were optional in the schema of a session,
    thread or orchestration, so a client generated from it typed them as possibly absent; the answers carry them all."""
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("Session", "Thread", "Orchestration", "ApiKeyInfo"):
        assert {"_id", "created_at", "updated_at"} <= set(schemas[name]["required"]), name
    assert set(schemas["Session"]["required"]) == set(schemas["Session"]["properties"])
    assert "max_iterations" not in schemas["SessionCreate"].get("required", [])  # (a request's fields stay optional)
    assert "evaluation_threshold" not in schemas["StartSettings"].get("required", [])
    assert "errors" not in schemas["ErrorBody"]["required"]  # (a 422's only)
    session = api.session(settings={"cost_limit": 1.0})
    thread = api.thread(session["_id"])
    done = api.wait(api.start(thread["_id"])["_id"])
    analytics = api.client.get(f"/api/analytics/session/{session['_id']}", headers=api.alice).json()
    model = api.client.get("/api/models/gpt4", headers=api.alice).json()
    assert _missing(session, "Session", schemas) == []
    assert _missing(thread, "Thread", schemas) == []
    assert _missing(done, "Orchestration", schemas) == []
    assert _missing(analytics, "Analytics", schemas) == []
    assert _missing(model, "ModelOut", schemas) == []


def _example(schema: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """The body `/docs` ("Try it out") sends for the operation: its request schema's first example."""
    ref = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    example: dict[str, Any] = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["examples"][0]
    return example


def test_the_bodies_try_it_out_sends_are_accepted(api: Api) -> None:
    """Without examples, Swagger UI made every body of `"string"` values: `"user_id": "string"` (404 "no user
    'string'"), `"preferred_models": ["string"]`, `"judges": ["string"]` (400 unknown model), so no POST could be
    tried from `/docs`. The examples (the spec's, ids aside) are accepted as they are, once given real ids."""
    schema = api.client.get("/openapi.json").json()
    r = api.client.post("/api/sessions/", json=_example(schema, "/api/sessions/", "post"), headers=api.alice)
    assert r.status_code == 201, r.text
    session = r.json()
    assert (session["user_id"], session["max_iterations"], session["settings"]["cost_limit"]) == ("alice", 5, 10.0)
    body = {**_example(schema, "/api/threads/", "post"), "session_id": session["_id"]}
    r = api.client.post("/api/threads/", json=body, headers=api.alice)
    assert r.status_code == 201, r.text
    body = {**_example(schema, "/api/orchestration/start", "post"), "thread_id": r.json()["_id"]}
    r = api.client.post("/api/orchestration/start", json=body, headers=api.alice)
    assert r.status_code == 202, r.text
    api.wait(r.json()["_id"])
    status = _example(schema, "/api/sessions/{session_id}/status", "patch")
    r = api.client.patch(f"/api/sessions/{session['_id']}/status", json=status, headers=api.alice)
    assert (r.status_code, r.json()["status"]) == (200, "completed"), r.text
