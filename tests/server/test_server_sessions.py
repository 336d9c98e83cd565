"""Sessions API: creation, reading, listing, status transitions, tenant isolation, auth."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from urllib.parse import quote

import pytest

from .conftest import Api


def test_create_session_answers_201_with_the_spec_fields(api: Api) -> None:
    body = {
        "user_id": "alice",
        "max_iterations": 5,
        "settings": {"preferred_models": ["gpt4", "claude"], "cost_limit": 10.0},
    }
    r = api.client.post("/api/sessions/", json=body, headers=api.alice)
    assert r.status_code == 201
    doc = r.json()
    assert len(doc["_id"]) == 24 and int(doc["_id"], 16) >= 0
    assert doc["user_id"] == "alice"
    assert doc["status"] == "active"
    assert doc["session_end"] is None
    assert doc["max_iterations"] == 5
    assert doc["total_cost"] == 0.0
    assert doc["settings"]["cost_limit"] == 10.0
    assert len(doc["settings"]["preferred_models"]) == 2  # resolved to the catalog's full names
    for field in ("created_at", "updated_at", "session_start"):
        datetime.fromisoformat(doc[field])


def test_user_id_defaults_to_the_key_user(api: Api) -> None:
    assert api.session()["user_id"] == "alice"
    assert api.session(api.bob)["user_id"] == "bob"


def test_a_user_cannot_create_a_session_for_another_user(api: Api) -> None:
    r = api.client.post("/api/sessions/", json={"user_id": "bob"}, headers=api.alice)
    assert r.status_code == 404
    assert r.json() == {"detail": "no user 'bob'", "status_code": 404}
    assert api.session(api.admin, user_id="bob")["user_id"] == "bob"


@pytest.mark.parametrize(
    ("user_id", "problem"),
    [
        ("a/b", "must not hold '/'"),
        ("a\tb", "must not hold the control character '\\t'"),
        ("a\x00b", "must not hold the control character '\\x00'"),
        ("a\nb", "must not hold the control character '\\n'"),
        ("..", "must not be '..'"),
        (".", "must not be '.'"),
        ("   ", "must not be empty or blank"),
    ],
)
def test_a_user_id_no_route_could_name_is_refused(api: Api, user_id: str, problem: str) -> None:
    """Such sessions were created (201) although `GET /api/sessions/user/{user_id}` could never list them."""
    r = api.client.post("/api/sessions/", json={"user_id": user_id}, headers=api.admin)
    assert r.status_code == 422, r.text
    doc = r.json()
    assert doc["status_code"] == 422 and doc["detail"].startswith(f"user_id: a user id {problem}")
    assert doc["errors"][0]["loc"] == ["body", "user_id"]


@pytest.mark.parametrize("user_id", ["a b", "é", "a.b", "...", "a%b"])
def test_an_unusual_user_id_a_path_can_name_is_listed(api: Api, user_id: str) -> None:
    sid = api.session(api.admin, user_id=user_id)["_id"]
    r = api.client.get(f"/api/sessions/user/{quote(user_id, safe='')}", headers=api.admin)
    assert r.status_code == 200, r.text
    assert [s["_id"] for s in r.json()] == [sid]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_iterations": 0}, "max_iterations"),
        ({"max_iterations": 51}, "max_iterations"),
        ({"settings": {"cost_limit": -1}}, "settings.cost_limit"),
        ({"settings": {"preferred_models": []}}, "settings.preferred_models"),
        ({"user_id": ""}, "user_id"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_session_bodies_answer_422(api: Api, body: dict[str, object], field: str) -> None:
    r = api.client.post("/api/sessions/", json=body, headers=api.alice)
    assert r.status_code == 422
    doc = r.json()
    assert doc["status_code"] == 422
    assert doc["detail"].startswith(f"{field}:")


def test_unknown_preferred_model_answers_400(api: Api) -> None:
    r = api.client.post("/api/sessions/", json={"settings": {"preferred_models": ["gpt-17"]}}, headers=api.alice)
    assert r.status_code == 400
    assert "unknown model 'gpt-17'" in r.json()["detail"]


def test_malformed_json_answers_400(api: Api) -> None:
    r = api.client.post(
        "/api/sessions/", content=b'{"user_id": ', headers={**api.alice, "Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json() == {
        "detail": "the request body is not valid JSON: Expecting value: line 1 column 13 (char 12)",
        "status_code": 400,
    }


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            b'{"max_iterations": 2,\n "user_id": "alice"\n "settings": {}}',
            "the request body is not valid JSON: Expecting ',' delimiter: line 3 column 2 (char 43)",
        ),
        (b'{"max_iterations": 2}{"max_iterations": 3}', "the request body is not valid JSON: Extra data: line 1"),
        (
            b'{"user_id": "alice\tbob"}',
            "the request body is not valid JSON: Invalid control character at: line 1 column 19 (char 18); a line"
            " break or tab inside a string is written escaped (\\n, \\t)",
        ),
    ],
)
def test_a_body_that_is_not_json_is_told_what_is_wrong_and_where(api: Api, body: bytes, detail: str) -> None:
    """It was "the request body is not valid JSON" whatever the fault and wherever in the body it was, while `/v1`
    names both."""
    r = api.client.post("/api/sessions/", content=body, headers={**api.alice, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["detail"].startswith(detail), r.text


@pytest.mark.parametrize("value", ["NaN", "Infinity"])
def test_a_non_finite_cost_limit_is_refused_as_such(api: Api, value: str) -> None:
    body = f'{{"settings": {{"cost_limit": {value}}}}}'
    r = api.client.post("/api/sessions/", content=body, headers={**api.alice, "Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"] == "settings.cost_limit: Input should be a finite number"


@pytest.mark.parametrize(
    ("content", "content_type", "detail"),
    [
        (
            b'{"max_iterations": 2}',
            "application/x-www-form-urlencoded",  # what `curl -d` sends without `-H 'Content-Type: ...'`
            "the request body must be JSON, sent with 'Content-Type: application/json'"
            " (not 'application/x-www-form-urlencoded')",
        ),
        (
            b'{"max_iterations": 2}',
            "text/plain; charset=utf-8",
            "the request body must be JSON, sent with 'Content-Type: application/json'"
            " (not 'text/plain; charset=utf-8')",
        ),
        (b"", "application/json", "the request body is empty: send a JSON object"),
        (b"[1, 2]", "application/json", "the request body must be a JSON object"),
    ],
)
def test_a_body_that_is_not_a_json_object_says_what_to_send(
    api: Api, content: bytes, content_type: str, detail: str
) -> None:
    r = api.client.post("/api/sessions/", content=content, headers={**api.alice, "Content-Type": content_type})
    assert r.status_code == 422
    assert r.json()["detail"] == detail


@pytest.mark.parametrize("path", ["/api/sessions/", "/api/threads/", "/api/orchestration/start"])
def test_a_json_body_sent_without_a_content_type_says_to_send_one(api: Api, path: str) -> None:
    """`requests.post(url, data=json.dumps(body))` sends no `Content-Type`: the body, a JSON object, was answered
    "the request body must be a JSON object"."""
    r = api.client.post(path, content=b'{"max_iterations": 2}', headers=api.alice)
    assert "content-type" not in r.request.headers
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "the request body must be JSON, sent with 'Content-Type: application/json' (the request has none)"
    )


def test_get_session(api: Api) -> None:
    created = api.session()
    r = api.client.get(f"/api/sessions/{created['_id']}", headers=api.alice)
    assert r.status_code == 200
    assert r.json() == created


def test_sessions_of_other_users_answer_404_as_missing_ones(api: Api) -> None:
    sid = api.session()["_id"]
    mine = api.client.get(f"/api/sessions/{sid}", headers=api.bob)
    missing = api.client.get("/api/sessions/0123456789abcdef01234567", headers=api.bob)
    assert mine.status_code == missing.status_code == 404
    assert mine.json() == {"detail": f"no session {sid!r}", "status_code": 404}
    assert (
        api.client.patch(f"/api/sessions/{sid}/status", json={"status": "paused"}, headers=api.bob).status_code == 404
    )
    assert api.client.get(f"/api/sessions/{sid}", headers=api.admin).status_code == 200


def test_a_malformed_id_answers_404(api: Api) -> None:
    r = api.client.get("/api/sessions/not-an-id", headers=api.alice)
    assert r.status_code == 404
    assert "24 hexadecimal digits" in r.json()["detail"]


def test_list_user_sessions(api: Api) -> None:
    first, second = api.session(), api.session()
    api.session(api.bob)
    r = api.client.get("/api/sessions/user/alice", headers=api.alice)
    assert r.status_code == 200
    assert [s["_id"] for s in r.json()] == [first["_id"], second["_id"]]
    assert [
        s["_id"] for s in api.client.get("/api/sessions/user/alice?limit=1&offset=1", headers=api.alice).json()
    ] == [second["_id"]]
    assert api.client.get("/api/sessions/user/bob", headers=api.alice).status_code == 404
    assert len(api.client.get("/api/sessions/user/bob", headers=api.admin).json()) == 1
    assert api.client.get("/api/sessions/user/alice?limit=0", headers=api.alice).status_code == 422


def test_status_transitions_and_session_end(api: Api) -> None:
    sid = api.session()["_id"]

    def patch(status: str) -> dict[str, object]:
        r = api.client.patch(f"/api/sessions/{sid}/status", json={"status": status}, headers=api.alice)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    assert patch("paused")["session_end"] is None
    assert patch("active")["status"] == "active"
    done = patch("completed")
    assert done["status"] == "completed"
    assert done["session_end"] is not None
    r = api.client.patch(f"/api/sessions/{sid}/status", json={"status": "active"}, headers=api.alice)
    assert r.status_code == 409
    assert r.json()["detail"] == (
        "a session cannot go from 'completed' to 'active'; allowed from 'completed': none (it is final)"
    )


def test_setting_the_status_a_session_has_changes_nothing(api: Api) -> None:
    """As docs/server.md says: a retried PATCH is safe, even to a final status."""
    sid = api.session()["_id"]
    for status in ("active", "paused", "paused", "completed", "completed"):
        before = api.client.get(f"/api/sessions/{sid}", headers=api.alice).json()
        r = api.client.patch(f"/api/sessions/{sid}/status", json={"status": status}, headers=api.alice)
        assert r.status_code == 200, r.text
        if before["status"] == status:
            assert r.json() == before


def test_an_unknown_status_answers_422(api: Api) -> None:
    sid = api.session()["_id"]
    r = api.client.patch(f"/api/sessions/{sid}/status", json={"status": "finished"}, headers=api.alice)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("status: Input should be 'active', 'paused', 'completed' or 'cancelled'")


def test_requests_without_a_valid_key_answer_401(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer ox_nope"}, {"X-API-Key": "ox_nope"}, {"Authorization": "Basic x"}):
        r = api.client.post("/api/sessions/", json={}, headers=headers)
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert r.json()["status_code"] == 401
    assert api.client.post("/api/sessions/", json={}, headers={"X-API-Key": api.keys["alice"]}).status_code == 201


def test_authentication_comes_before_validation(api: Api) -> None:
    r = api.client.post("/api/sessions/", json={"max_iterations": "many"})
    assert r.status_code == 401


def test_wrong_method_answers_405_in_the_error_format(api: Api) -> None:
    r = api.client.delete("/api/sessions/", headers=api.alice)
    assert r.status_code == 405
    assert r.json() == {
        "detail": "Method Not Allowed: DELETE is not allowed on /api/sessions/: use POST",
        "status_code": 405,
    }


def test_a_list_asked_of_the_route_creating_its_records_is_told_where_it_is(api: Api) -> None:
    """`GET /api/sessions/` (REST's way of listing a collection) answered 405 "use POST" alone, read as "sessions
    cannot be listed"; `GET /api/threads/` likewise. The answer now names the list route."""
    r = api.client.get("/api/sessions/", headers=api.alice)
    assert (r.status_code, r.json()["detail"]) == (
        405,
        "Method Not Allowed: GET is not allowed on /api/sessions/: use POST; a user's sessions are listed with GET"
        " /api/sessions/user/alice",
    )
    assert api.client.get("/api/sessions/user/alice", headers=api.alice).status_code == 200
    r = api.client.get("/api/threads", headers=api.alice)
    assert (r.status_code, r.json()["detail"]) == (
        405,
        "Method Not Allowed: GET is not allowed on /api/threads/: use POST; a session's threads are listed with GET"
        " /api/threads/session/{session_id}",
    )
    r = api.client.head("/api/sessions/", headers=api.alice)
    assert (r.status_code, r.headers["allow"]) == (405, "POST")


def test_a_status_sent_with_put_is_told_to_use_patch(api: Api) -> None:
    """`requests.put(…/status)` (or `curl -X PUT`) got only "Method Not Allowed": the method to use was in the
    `Allow` header alone, which clients do not show. The answer now names it, as `/v1`'s 405 does."""
    sid = api.session(api.alice)["_id"]
    r = api.client.put(f"/api/sessions/{sid}/status", json={"status": "paused"}, headers=api.alice)
    assert (r.status_code, r.headers["allow"]) == (405, "PATCH")
    assert r.json()["detail"] == f"Method Not Allowed: PUT is not allowed on /api/sessions/{sid}/status: use PATCH"
    assert api.client.get(f"/api/sessions/{sid}", headers=api.alice).json()["status"] == "active"


def test_a_record_created_with_a_field_in_the_url_is_refused_not_made_without_it(api: Api) -> None:
    """An admin's `POST /api/sessions/?user_id=bob` (`requests.post(url, params=…, json={})`) made a session of the
    admin's own, the parameter unread; a thread's or a run's field sent there was likewise left out without a word."""
    detail = "{}: not a query parameter of this route, which reads its JSON body only: give it there"
    r = api.client.post("/api/sessions/?user_id=bob", json={}, headers=api.admin)
    assert (r.status_code, r.json()["detail"]) == (422, detail.format("user_id"))
    sid = api.session()["_id"]
    r = api.client.post(
        "/api/threads/?domain=coding", json={"session_id": sid, "original_prompt": "Name a prime"}, headers=api.alice
    )
    assert (r.status_code, r.json()["detail"]) == (422, detail.format("domain"))
    tid = api.thread(sid)["_id"]
    r = api.client.post("/api/orchestration/start?max_iterations=1", json={"thread_id": tid}, headers=api.alice)
    assert (r.status_code, r.json()["detail"]) == (422, detail.format("max_iterations"))
    assert api.client.get(f"/api/threads/session/{sid}", headers=api.alice).json() == [
        api.client.get(f"/api/threads/{tid}", headers=api.alice).json()
    ]  # (nothing made by the refused requests)
    assert api.client.get("/api/sessions/user/bob", headers=api.admin).json() == []
    assert api.client.get(f"/api/analytics/session/{sid}", headers=api.alice).json()["orchestrations"] == 0


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE", "POST"])
def test_a_session_ended_at_its_document_is_told_where_its_status_is_set(api: Api, method: str) -> None:
    """`PATCH /api/sessions/{id}` with `{"status": "completed"}` (REST's way of changing a field), or `DELETE` of the
    session, answered 405 "use GET, HEAD" alone: read as "a session cannot be ended", while its runs went on paying."""
    sid = api.session(api.alice)["_id"]
    r = api.client.request(method, f"/api/sessions/{sid}", json={"status": "completed"}, headers=api.alice)
    assert (r.status_code, r.json()["detail"]) == (
        405,
        f"Method Not Allowed: {method} is not allowed on /api/sessions/{sid}: use GET, HEAD; a session's status is set"
        f" with PATCH /api/sessions/{sid}/status (completed or cancelled ends it and stops its runs)",
    )
    r = api.client.delete(f"/api/orchestration/status/{sid}", headers=api.alice)
    assert (r.status_code, r.json()["detail"]) == (
        405,
        f"Method Not Allowed: DELETE is not allowed on /api/orchestration/status/{sid}: use GET, HEAD; an"
        f" orchestration is stopped with POST /api/orchestration/{sid}/cancel",
    )
    r = api.client.delete("/api/sessions/user/alice", headers=api.alice)  # (no session there: no hint)
    assert r.json()["detail"] == "Method Not Allowed: DELETE is not allowed on /api/sessions/user/alice: use GET, HEAD"


def test_a_session_whose_only_judge_is_its_only_model_is_refused(api: Api) -> None:
    """It was created (201), then every start in it answered 400 "no model can judge the answers of …"."""
    body = {"settings": {"preferred_models": ["sim:gpt-4.1"], "judges": ["sim:gpt-4.1"]}}
    r = api.client.post("/api/sessions/", json=body, headers=api.alice)
    assert r.status_code == 400, r.text
    assert r.json()["detail"].startswith("no model can judge the answers of sim:gpt-4.1: a judge must be another model")
    assert api.client.get("/api/sessions/user/alice", headers=api.alice).json() == []


def test_a_session_that_judges_nothing_may_have_its_only_model_as_its_only_judge(api: Api) -> None:
    """With `judging` "when_needed" and `max_iterations` 1 no run of the session calls a judge (docs/evaluation.md):
    it was refused 400 "no model can judge the answers of sim:gpt-4.1"."""
    settings = {"preferred_models": ["sim:gpt-4.1"], "judges": ["sim:gpt-4.1"], "judging": "when_needed"}
    r = api.client.post("/api/sessions/", json={"max_iterations": 1, "settings": settings}, headers=api.alice)
    assert r.status_code == 201, r.text
    tid = api.thread(r.json()["_id"])["_id"]
    assert api.wait(api.start(tid)["_id"])["status"] == "completed"
    r = api.client.post("/api/sessions/", json={"max_iterations": 2, "settings": settings}, headers=api.alice)
    assert r.status_code == 400, r.text


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/api/sessions/user/", "no user given: the sessions of a user are listed at /api/sessions/user/{user_id}"),
        ("/api/sessions/user", "no user given: the sessions of a user are listed at /api/sessions/user/{user_id}"),
        (
            "/api/threads/session/",
            "no session given: the threads of a session are listed at /api/threads/session/{session_id}",
        ),
        (
            "/api/analytics/session/",
            "no session given: the analytics of a session are at /api/analytics/session/{session_id}",
        ),
        ("/api/analytics/user/", "no user given: the analytics of a user are at /api/analytics/user/{user_id}"),
        ("/api/analytics/user", "no user given: the analytics of a user are at /api/analytics/user/{user_id}"),
        (
            "/api/orchestration/status/",
            "no orchestration given: the status of an orchestration is at /api/orchestration/status/{orchestration_id}",
        ),
    ],
)
def test_a_list_path_with_its_id_left_empty_says_so(api: Api, path: str, detail: str) -> None:
    """`f"/api/sessions/user/{user_id}"` with an empty `user_id` was answered "no session 'user' (ids are 24
    hexadecimal digits)", as if the client had given a session id; the analytics and status routes answered a bare
    "Not Found", as if there were no such route."""
    r = api.client.get(path, headers=api.alice)
    assert (r.status_code, r.json()["detail"]) == (404, detail)


@pytest.mark.parametrize(
    ("method", "path", "detail"),
    [
        (
            "PATCH",
            "/api/sessions//status",
            "no session given: the status of a session is set at /api/sessions/{session_id}/status",
        ),
        (
            "POST",
            "/api/orchestration//cancel",
            "no orchestration given: an orchestration is cancelled at /api/orchestration/{orchestration_id}/cancel",
        ),
    ],
)
def test_a_stop_with_its_id_left_empty_says_so(api: Api, method: str, path: str, detail: str) -> None:
    """`f"/api/orchestration/{oid}/cancel"` or `f"/api/sessions/{sid}/status"` with an empty id (a script whose
    variable held nothing, trying to stop what it pays for) was answered a bare "Not Found", as if the route did not
    exist, where the reading routes say which id is missing."""
    r = api.client.request(method, path, json={"status": "cancelled"}, headers=api.alice)
    assert (r.status_code, r.json()["detail"]) == (404, detail)


def test_settings_null_is_settings_left_out(api: Api) -> None:
    """`"settings": null` (an unset option, as typed clients serialise it) was refused with 422 "Input should be a
    valid dictionary or object to extract fields from", although `"user_id": null` and `"max_iterations": null` mean
    "the default"."""
    r = api.client.post(
        "/api/sessions/", json={"user_id": None, "max_iterations": None, "settings": None}, headers=api.alice
    )
    assert r.status_code == 201, r.text
    assert r.json()["settings"] == {"preferred_models": None, "cost_limit": None, "judges": None, "judging": None}
    tid = api.thread(r.json()["_id"])["_id"]
    started = api.client.post("/api/orchestration/start", json={"thread_id": tid, "settings": None}, headers=api.alice)
    assert started.status_code == 202, started.text
    assert started.json()["settings"]["max_iterations"] == 5


@pytest.mark.parametrize("compress", [True, False])
def test_a_body_sent_with_a_content_encoding_is_refused_with_415_saying_so(api: Api, compress: bool) -> None:
    """A gzip-compressed JSON body was answered "the request body is not UTF-8 (byte 0x8b at 1)", and a plain one
    labelled gzip was read as if it were not."""
    body = json.dumps({"max_iterations": 2}).encode()
    headers = {**api.alice, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    r = api.client.post("/api/sessions/", content=gzip.compress(body) if compress else body, headers=headers)
    assert r.status_code == 415 and r.headers["Accept-Encoding"] == "identity"
    assert r.json() == {
        "detail": "the request body is sent with 'Content-Encoding: gzip', which this server does not decode: send it"
        " uncompressed (no Content-Encoding)",
        "status_code": 415,
    }
    assert api.client.get("/api/sessions/user/alice", headers=api.alice).json() == []
    identity = api.client.post("/api/sessions/", content=body, headers={**headers, "Content-Encoding": "identity"})
    assert identity.status_code == 201
    assert api.client.get("/api/models/gpt4", headers={**api.alice, "Content-Encoding": "gzip"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "twice"),
    [
        ("/api/sessions/", '{"settings": {"cost_limit": 5.0}, "max_iterations": 2, "settings": {}}', "settings"),
        ("/api/sessions/", '{"settings": {"cost_limit": 5.0, "cost_limit": 50.0}}', "cost_limit"),
        ("/api/threads/", '{"session_id": "{sid}", "original_prompt": "a", "original_prompt": "b"}', "original_prompt"),
        ("/api/sessions/{sid}/status", '{"status": "completed", "status": "active"}', "status"),
    ],
)
def test_a_field_given_twice_in_the_body_is_refused_not_read_as_its_last_value(
    api: Api, path: str, body: str, twice: str
) -> None:
    """`{"settings": {"cost_limit": 5}, "settings": {}}` made a session with no budget at all, without a word."""
    sid = api.session()["_id"]
    method = "PATCH" if path.endswith("/status") else "POST"
    r = api.client.request(
        method,
        path.replace("{sid}", sid),
        content=body.replace("{sid}", sid),
        headers={**api.alice, "Content-Type": "application/json"},
    )
    assert (r.status_code, r.json()["detail"]) == (
        422,
        f"'{twice}' is given more than once in an object of the body: give each field once",
    )
    assert len(api.client.get("/api/sessions/user/alice", headers=api.alice).json()) == 1
    assert api.client.get(f"/api/threads/session/{sid}", headers=api.alice).json() == []
    assert api.client.get(f"/api/sessions/{sid}", headers=api.alice).json()["status"] == "active"


def test_a_preferred_model_with_a_space_around_it_is_answered_with_the_name_meant(api: Api) -> None:
    """`"gpt4, claude".split(",")` gives `" claude"`: the 400 said "unknown model ' claude'" and listed the full names
    only, where the alias `claude` it missed by a space appears nowhere."""
    r = api.client.post(
        "/api/sessions/", json={"settings": {"preferred_models": ["gpt4", " claude"]}}, headers=api.alice
    )
    assert r.status_code == 400
    assert r.json()["detail"].startswith(
        "unknown model ' claude': did you mean 'claude'? (names and aliases are matched exactly); known models: "
    )


@pytest.mark.parametrize("given", ["abc", "", "1.5", "ten"])
def test_a_page_parameter_that_is_no_number_is_refused_as_one_not_in_plain_digits(api: Api, given: str) -> None:
    """`?limit=abc` was refused in pydantic's words ("Input should be a valid integer, unable to parse string as an
    integer") while `?limit=1_0` said "must be a whole number in plain digits, not '1_0'"."""
    for path in ("/api/sessions/user/alice", f"/api/threads/session/{api.session()['_id']}"):
        for name in ("limit", "offset"):
            r = api.client.get(f"{path}?{name}={given}", headers=api.alice)
            assert (r.status_code, r.json()["detail"]) == (
                422,
                f"{name}: must be a whole number in plain digits, not {given!r}",
            )
