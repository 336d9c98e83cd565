"""Threads API: creation in an active session, reading, listing, tenant isolation."""

from __future__ import annotations

import json

import pytest

from .conftest import Api, in_app_loop


def test_create_thread_answers_201(api: Api) -> None:
    sid = api.session()["_id"]
    body = {
        "session_id": sid,
        "original_prompt": "Write a Python function to calculate fibonacci numbers",
        "domain": "coding",
        "context": "This is for a beginner programming tutorial",
    }
    r = api.client.post("/api/threads/", json=body, headers=api.alice)
    assert r.status_code == 201
    doc = r.json()
    assert {k: doc[k] for k in body} == body
    assert doc["user_id"] == "alice"
    assert {"_id", "created_at", "updated_at"} <= set(doc)


def test_get_and_list_threads(api: Api) -> None:
    sid = api.session()["_id"]
    first, second = api.thread(sid), api.thread(sid, domain="math")
    r = api.client.get(f"/api/threads/{first['_id']}", headers=api.alice)
    assert r.status_code == 200
    assert r.json() == first
    listed = api.client.get(f"/api/threads/session/{sid}", headers=api.alice)
    assert [t["_id"] for t in listed.json()] == [first["_id"], second["_id"]]


def test_threads_of_other_users_answer_404(api: Api) -> None:
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]
    assert api.client.get(f"/api/threads/{tid}", headers=api.bob).status_code == 404
    assert api.client.get(f"/api/threads/session/{sid}", headers=api.bob).status_code == 404
    r = api.client.post("/api/threads/", json={"session_id": sid, "original_prompt": "hi"}, headers=api.bob)
    assert r.status_code == 404
    assert r.json() == {"detail": f"no session {sid!r}", "status_code": 404}
    assert api.client.get(f"/api/threads/{tid}", headers=api.admin).status_code == 200


def test_no_thread_in_a_session_that_is_not_active(api: Api) -> None:
    sid = api.session()["_id"]
    api.client.patch(f"/api/sessions/{sid}/status", json={"status": "paused"}, headers=api.alice)
    r = api.client.post("/api/threads/", json={"session_id": sid, "original_prompt": "hi"}, headers=api.alice)
    assert r.status_code == 409
    assert "paused" in r.json()["detail"]


def test_invalid_thread_bodies_answer_422(api: Api) -> None:
    sid = api.session()["_id"]
    for body, field in (
        ({"session_id": sid, "original_prompt": ""}, "original_prompt"),
        ({"session_id": sid, "original_prompt": "x", "domain": "codeing"}, "domain"),
        ({"original_prompt": "x"}, "session_id"),
    ):
        r = api.client.post("/api/threads/", json=body, headers=api.alice)
        assert r.status_code == 422, body
        assert r.json()["detail"].startswith(f"{field}:")


@pytest.mark.parametrize("blank", ["", "   ", "\u200b", "\ufeff\u00ad \u2060"])
@pytest.mark.parametrize("route", ["thread", "start"])
def test_a_blank_prompt_is_a_validation_error_of_its_field(api: Api, blank: str, route: str) -> None:
    # a prompt of invisible characters (a zero-width space pasted alone) was stored and its start paid for a call;
    # refused, one of spaces answered the library's 400 where "" answered 422: both are 422, naming the field
    sid = api.session()["_id"]
    if route == "thread":
        path, field, body = "/api/threads/", "original_prompt", {"session_id": sid, "original_prompt": blank}
    else:
        path, field, body = "/api/orchestration/start", "prompt", {"thread_id": api.thread(sid)["_id"], "prompt": blank}
    r = api.client.post(path, json=body, headers=api.alice)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == f"{field}: the prompt is empty: give the text to orchestrate"
    assert r.json()["errors"][0]["loc"] == ["body", field]
    assert len(api.client.get(f"/api/threads/session/{sid}", headers=api.alice).json()) == (route == "start")
    assert in_app_loop(api.client).call(lambda: api.store.list_orchestrations(session_id=sid)) == []


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("/api/threads/", "original_prompt", "Summarise this 😀"[:-1] + "\ud83d"),
        ("/api/threads/", "context", "\ud800"),
        ("/api/sessions/", "user_id", "al\udc00"),
        ("/api/orchestration/start", "prompt", "\ud800"),
    ],
)
def test_a_text_holding_a_lone_surrogate_is_refused_alike_in_every_field(
    api: Api, path: str, field: str, value: str
) -> None:
    """An emoji cut in two by a UTF-16 client (`"\\ud83d"` in the JSON) was answered 400 naming the field and where
    in `context`, but 422 "Input should be a valid string, unable to parse raw data as a unicode string" in a prompt,
    an id or a user id."""
    sid = api.session()["_id"]
    body = {
        "/api/threads/": {"session_id": sid, "original_prompt": "x"},
        "/api/sessions/": {},
        "/api/orchestration/start": {"thread_id": api.thread(sid)["_id"]},
    }[path]
    content = json.dumps({**body, field: value})  # (ASCII: the lone surrogate as a `\u` escape, as clients send it)
    r = api.client.post(path, content=content, headers={**api.admin, "Content-Type": "application/json"})
    at = len(value) - 1  # (each value ends with its lone surrogate)
    assert r.status_code == 400
    assert r.json()["detail"] == (
        f"{field} holds a lone surrogate ({value[at]!r} at character {at}), which is not text: send valid Unicode"
        " (a JSON \\u escape of a surrogate must be one of a pair)"
    )
