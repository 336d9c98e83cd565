"""Requests in another form of a documented one, as clients send them (redirects not followed): a spec path
ending in `/` asked without it, another asked with a trailing `/`, and `HEAD` for `GET`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import pytest

from .conftest import Api

SLASHED = ["/api/sessions/", "/api/threads/", "/api/models/", "/api/admin/keys/"]
"""The documented paths that end in `/` (the spec's three, and the admin's key list)."""


def test_the_schema_lists_the_spec_forms_only(api: Api) -> None:
    paths: dict[str, Any] = api.client.get("/openapi.json").json()["paths"]
    assert sorted(p for p in paths if len(p) > 1 and p.endswith("/")) == sorted(SLASHED)
    assert not {p.rstrip("/") for p in SLASHED} & set(paths)
    assert not [p for p, item in paths.items() if "head" in item]


def test_post_without_the_trailing_slash_creates_as_the_spec_form_does(api: Api) -> None:
    r = api.client.post("/api/sessions", json={"max_iterations": 2}, headers=api.alice, follow_redirects=False)
    assert r.status_code == 201, r.text
    session = r.json()
    assert (session["user_id"], session["max_iterations"]) == ("alice", 2)
    body = {"session_id": session["_id"], "original_prompt": "Write a haiku"}
    r = api.client.post("/api/threads", json=body, headers=api.alice, follow_redirects=False)
    assert r.status_code == 201, r.text
    assert r.json()["session_id"] == session["_id"]
    # the same refusals too
    r = api.client.post("/api/sessions", json={"max_iterations": 0}, headers=api.alice, follow_redirects=False)
    assert r.status_code == 422 and r.json()["detail"].startswith("max_iterations: ")
    assert api.client.post("/api/sessions", json={}, follow_redirects=False).status_code == 401


@pytest.mark.parametrize(("path", "who"), [("/api/models", "alice"), ("/api/admin/keys", "admin")])
def test_get_without_the_trailing_slash_answers_as_the_spec_form(api: Api, path: str, who: str) -> None:
    headers = getattr(api, who)
    r = api.client.get(path, headers=headers, follow_redirects=False)
    assert r.status_code == 200, r.text
    spec = api.client.get(path + "/", headers=headers).json()
    assert [d.get("_id", d.get("name")) for d in r.json()] == [d.get("_id", d.get("name")) for d in spec]


def test_a_path_asked_with_a_trailing_slash_it_does_not_have_answers_as_the_spec_form(api: Api) -> None:
    """These answered an empty 307 redirect, which curl and httpx do not follow (a PATCH or POST lost)."""
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]
    oid = api.wait(api.start(tid)["_id"])["_id"]  # (ended: every answer below stays the same)
    for path in (
        f"/api/sessions/{sid}/",
        "/api/sessions/user/alice/",
        f"/api/threads/{tid}/",
        f"/api/threads/session/{sid}/",
        f"/api/orchestration/status/{oid}/",
        f"/api/analytics/session/{sid}/",
        "/api/analytics/user/alice/",
        "/api/models/gpt4/",
    ):
        r = api.client.get(path, headers=api.alice, follow_redirects=False)
        assert r.status_code == 200, (path, r.status_code, r.text)
        assert r.json() == api.client.get(path[:-1], headers=api.alice).json()
    r = api.client.post(f"/api/orchestration/{oid}/cancel/", headers=api.alice, follow_redirects=False)
    assert r.status_code == 409 and "has already ended" in r.json()["detail"], r.text
    body = {"status": "completed"}
    r = api.client.patch(f"/api/sessions/{sid}/status/", json=body, headers=api.alice, follow_redirects=False)
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    body = {"thread_id": tid}
    r = api.client.post("/api/orchestration/start/", json=body, headers=api.alice, follow_redirects=False)
    assert r.status_code == 409, r.text  # (the session has ended)
    r = api.client.delete("/api/admin/keys/nope/", headers=api.admin, follow_redirects=False)
    assert r.status_code == 404 and "no API key 'nope'" in r.json()["detail"]


def test_other_paths_are_not_rewritten(api: Api) -> None:
    r = api.client.get("/api/sessions", headers=api.alice, follow_redirects=False)
    assert r.status_code == 405 and r.headers["allow"] == "POST"  # as GET /api/sessions/ answers
    assert api.client.get("/api/model", headers=api.alice, follow_redirects=False).status_code == 404


def test_head_answers_as_get_without_a_body(api: Api) -> None:
    sid = api.session()["_id"]
    paths = [
        "/api/models/",
        "/api/models",
        "/api/models/gpt4",
        f"/api/sessions/{sid}",
        "/api/sessions/user/alice",  # (a streamed list)
        f"/api/analytics/session/{sid}",
        "/api/models/no-such-model",
        "/health",
        "/health/ready",
        "/v1/models",
        "/openapi.json",
        "/docs",
    ]
    for path in paths:
        get = api.client.get(path, headers=api.alice)
        head = api.client.head(path, headers=api.alice)
        assert (head.status_code, head.content) == (get.status_code, b""), path
        assert head.headers["content-type"] == get.headers["content-type"], path
        assert head.headers.get("content-length") == get.headers.get("content-length"), path
    assert api.client.head("/api/models/").status_code == 401  # a key is needed, as for GET


def test_head_on_a_route_without_get_answers_405(api: Api) -> None:
    r = api.client.head("/api/orchestration/start", headers=api.alice)
    assert (r.status_code, r.headers["allow"]) == (405, "POST")


def test_metrics_count_them_under_the_spec_route_and_their_method(api: Api) -> None:
    api.client.post("/api/sessions", json={}, headers=api.alice, follow_redirects=False)
    api.client.head("/api/models", headers=api.alice)
    text = api.client.get("/metrics", headers=api.admin).text
    assert 'orchestratex_http_requests_total{method="POST",route="/api/sessions/",status="201"} 1.0' in text
    assert 'orchestratex_http_requests_total{method="HEAD",route="/api/models/",status="200"} 1.0' in text
    assert 'method="GET",route="/api/models/"' not in text  # (answered as a GET, counted as the HEAD it was)


@pytest.mark.parametrize("docs", ["open", "key", "off"])
def test_the_api_docs_asked_with_a_trailing_slash_answer_as_without(
    make_api: Callable[..., Api], docs: Literal["open", "key", "off"]
) -> None:
    """`/docs/`, `/redoc/` and `/openapi.json/` answered an empty 307, which `curl -f` (or a check taking a 3xx for a
    success) passed with nothing shown, where `/health/` answers as `/health`."""
    api = make_api(docs=docs)
    for path in ("/docs", "/redoc", "/openapi.json"):
        for headers in ({}, api.alice):
            plain = api.client.get(path, headers=headers, follow_redirects=False)
            slashed = api.client.get(f"{path}/", headers=headers, follow_redirects=False)
            assert (slashed.status_code, slashed.content) == (plain.status_code, plain.content), (path, docs)
            assert plain.status_code != 307
    if docs == "open":
        assert api.client.get("/openapi.json/", follow_redirects=False).json()["info"]["title"] == "OrchestrateX"
        assert "swagger-ui" in api.client.get("/docs/", follow_redirects=False).text
