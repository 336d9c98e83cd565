"""The one mapping from the exception tree to HTTP answers, and the error format of every status."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from orchestratex import exceptions as x
from orchestratex.records import Session
from orchestratex.server._errors import status_for

from .conftest import Api


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (x.NotFound("no session 'a'"), 404),
        (x.Conflict("bad transition"), 409),
        (x.BudgetExceeded("no budget"), 409),
        (x.OrchestrationCancelled("cancelled"), 409),
        (x.UserError("bad"), 400),
        (x.ConfigurationError("bad"), 400),
        (x.UnknownModelError("gpt-17"), 400),
        (x.ProviderNotConfigured("no key", provider="openai"), 400),
        (x.ProviderTimeout("slow"), 502),
        (x.RateLimited("429", retry_after=1.0), 502),
        (x.EvaluationError("no verdict"), 502),
        (x.StoreError("disk full"), 500),
        (x.StoreUnavailable("cannot reach MongoDB"), 503),
        (x.OrchestrateXError("?"), 500),
    ],
)
def test_status_for_each_error(error: x.OrchestrateXError, status: int) -> None:
    assert status_for(error) == status


def test_library_errors_and_crashes_answer_in_the_error_format(make_api: Callable[..., Api]) -> None:
    api = make_api()
    sid = api.session()["_id"]

    async def broken_store(session_id: str) -> Session:
        raise x.StoreError("the disk is full")

    async def crash(session_id: str) -> Session:
        raise RuntimeError("a bug")

    store = api.store
    original = store.get_session
    try:
        store.get_session = broken_store  # type: ignore[method-assign]
        r = api.client.get(f"/api/sessions/{sid}", headers=api.alice)
        assert r.status_code == 500
        assert r.json() == {"detail": "the disk is full", "status_code": 500}
        store.get_session = crash  # type: ignore[method-assign]
        quiet = TestClient(api.client.app, raise_server_exceptions=False)  # same running app, no second lifespan
        r = quiet.get(f"/api/sessions/{sid}", headers=api.alice)
        assert r.status_code == 500
        assert r.json() == {"detail": "internal server error", "status_code": 500}
    finally:
        store.get_session = original  # type: ignore[method-assign]


def test_unknown_paths_answer_404_in_the_error_format(make_api: Callable[..., Api]) -> None:
    api = make_api()
    r = api.client.get("/api/nothing", headers=api.alice)
    assert r.status_code == 404
    assert r.json() == {
        "detail": "Not Found: GET /api/nothing is no route of this API; its routes begin /api/admin/, /api/analytics/,"
        " /api/models/, /api/orchestration/, /api/sessions/, /api/threads/",
        "status_code": 404,
    }
    assert api.client.get("/nothing").json() == {"detail": "Not Found", "status_code": 404}


def test_a_guessed_api_url_is_told_apart_from_a_missing_record(make_api: Callable[..., Api]) -> None:
    """`GET /api/orchestration/{id}` (the status is at `/api/orchestration/status/{id}`) answered a bare "Not Found",
    read as "no such orchestration" for a run just started: it now says the URL is no route and names the near ones."""
    api = make_api()
    sid = api.session(api.alice)["_id"]
    r = api.client.get(f"/api/orchestration/{sid}", headers=api.alice)
    assert (r.status_code, r.json()["detail"]) == (
        404,
        f"Not Found: GET /api/orchestration/{sid} is no route of this API; the routes under /api/orchestration/ are"
        " POST /api/orchestration/start, GET /api/orchestration/status/{orchestration_id},"
        " POST /api/orchestration/{orchestration_id}/cancel",
    )
    r = api.client.get(f"/api/sessions/{sid}/threads", headers=api.alice)
    assert r.status_code == 404
    assert "GET /api/sessions/{session_id}" in r.json()["detail"]
    assert api.client.get(f"/api/orchestration/{sid}").status_code == 401  # (no key: nothing said of the API)


@pytest.mark.parametrize(
    ("path", "single"),
    [
        ("//api/sessions/user/alice", "/api/sessions/user/alice"),
        ("//api/models/", "/api/models/"),
        ("/api//models", "/api/models"),
        ("/api/sessions//user/alice", "/api/sessions/user/alice"),
        ("//health", "/health"),
    ],
)
def test_a_url_with_a_slash_too_many_is_told_so(api: Api, path: str, single: str) -> None:
    """`BASE + "/api/..."` with a base URL ending in `/` sends `//api/...`: it answered a bare "Not Found", read as "no
    such record" (and `/api//models/` was told OpenAI's API is under /v1), while `/v1` says what is wrong."""
    r = api.client.get(f"http://testserver{path}", headers=api.alice)  # (`//api/…` alone would name a host `api`)
    assert (r.status_code, r.json()["detail"]) == (
        404,
        f"Not Found: GET {path} is no URL of this server: it has a / too many (//), as when a client's base URL ending"
        f" in / is joined to a path beginning with one; send GET {single}",
    )
    assert api.client.get(single, headers=api.alice).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "single"),
    [
        ("GET", "/health//", "/health/"),
        ("GET", "/health/ready//", "/health/ready/"),
        ("GET", "/docs//", "/docs/"),
        ("GET", "/api/sessions/user/alice//", "/api/sessions/user/alice/"),
        ("GET", "/api/models//", "/api/models/"),
        ("GET", "/api/models/gpt4//", "/api/models/gpt4/"),
        ("POST", "/api/sessions//", "/api/sessions/"),
        ("GET", "/console//", "/console/"),
    ],
)
def test_a_url_ending_in_a_slash_too_many_is_told_so_not_redirected_or_read_as_another(
    api: Api, method: str, path: str, single: str
) -> None:
    """A path ending in `//` was answered as another URL: an empty 307 to the path without its slashes (`/health//`,
    which `curl -f` took for a success), the list of models (`/api/models//`), the model `gpt4/`, or 405 "use POST"
    for the `POST` it was."""
    r = api.client.request(method, path, headers=api.alice, json={}, follow_redirects=False)
    assert (r.status_code, r.json()["detail"]) == (
        404,
        f"Not Found: {method} {path} is no URL of this server: it has a / too many (//), as when a client's base URL"
        f" ending in / is joined to a path beginning with one; send {method} {single}",
    )
    assert api.client.get("/api/models/gpt4/", headers=api.alice).status_code == 200  # (one slash is still a form)


@pytest.mark.parametrize("path", ["/api/models/%0A", "/api/sessions/%0A", "/api/models/gpt4%0D", "/api/models/a%00b"])
def test_a_path_with_a_control_character_answers_404_not_another_route(make_api: Callable[..., Api], path: str) -> None:
    api = make_api()
    api.session()  # so that the sessions list, which `/api/sessions/\n` used to reach, is not empty
    r = api.client.get(path, headers=api.alice)
    assert r.status_code == 404, r.text
    body = r.json()
    assert body["status_code"] == 404 and "control character" in body["detail"]
    assert api.client.get("/api/models/gpt4", headers=api.alice).status_code == 200  # the guard lets ordinary paths by


@pytest.mark.parametrize(
    ("method", "path", "start"),
    [
        ("GET", "/api/sessions/{id}", "no session 'aaaa"),
        ("GET", "/api/threads/session/{id}", "no session 'aaaa"),
        ("GET", "/api/threads/{id}", "no thread 'aaaa"),
        ("GET", "/api/orchestration/status/{id}", "no orchestration 'aaaa"),
        ("POST", "/api/orchestration/{id}/cancel", "no orchestration 'aaaa"),
        ("GET", "/api/analytics/session/{id}", "no session 'aaaa"),
        ("GET", "/api/models/{id}", "no model 'aaaa"),
    ],
)
def test_a_404_quotes_a_long_id_cut_not_whole(api: Api, method: str, path: str, start: str) -> None:
    """A 60,000-character id was quoted whole: a 60 KB answer (and log line) for a 60 KB path."""
    r = api.client.request(method, path.format(id="a" * 60_000), headers=api.alice)
    assert r.status_code == 404, r.text[:200]
    detail = r.json()["detail"]
    assert detail.startswith(start) and "… (60000 characters)" in detail and len(detail) < 300, detail


@pytest.mark.parametrize("path", ["/api/sessions/user/{id}", "/api/analytics/user/{id}"])
def test_a_long_user_id_is_refused_without_being_quoted(api: Api, path: str) -> None:
    """A user id longer than any user's (200 characters) is answered 422, as the admin API's `?user_id=`: the answer
    does not quote it."""
    r = api.client.get(path.format(id="a" * 60_000), headers=api.alice)
    assert (r.status_code, r.json()["detail"]) == (422, "user_id: String should have at most 200 characters")
    assert len(r.text) < 400


def test_an_id_in_capitals_answers_404_saying_ids_are_lowercase(api: Api) -> None:
    """`6B14A3FD…` (an id read from a tool that prints hexadecimal in capitals) was answered "ids are 24 hexadecimal
    digits", which it is: the answer now says they are written in lowercase, and how this one is written."""
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]
    oid = api.start(tid)["_id"]
    for path, ident in (
        ("/api/sessions/{}", sid),
        ("/api/threads/{}", tid),
        ("/api/threads/session/{}", sid),
        ("/api/orchestration/status/{}", oid),
        ("/api/analytics/session/{}", sid),
    ):
        r = api.client.get(path.format(ident.upper()), headers=api.alice)
        assert r.status_code == 404
        kind = "thread" if path.startswith("/api/threads/{") else "orchestration" if "orch" in path else "session"
        assert r.json()["detail"] == (
            f"no {kind} '{ident.upper()}' (ids are 24 hexadecimal digits in lowercase: '{ident}')"
        )
        assert api.client.get(path.format(ident), headers=api.alice).status_code == 200
    r = api.client.delete("/api/admin/keys/" + "ABCDEF" * 4, headers=api.admin)
    assert r.json()["detail"] == (
        "no API key 'ABCDEFABCDEFABCDEFABCDEF' (ids are 24 hexadecimal digits in lowercase, as `keys list` shows"
        " them: 'abcdefabcdefabcdefabcdef')"
    )


def test_revoking_a_key_id_that_cannot_be_one_answers_404_saying_what_ids_are(api: Api) -> None:
    r = api.client.delete("/api/admin/keys/" + "k" * 60_000, headers=api.admin)
    assert r.status_code == 404 and len(r.text) < 300, r.text[:200]
    assert r.json()["detail"].startswith("no API key 'kkkk") and "ids are 24 hexadecimal digits" in r.json()["detail"]
    r = api.client.delete("/api/admin/keys/nope", headers=api.admin)
    assert r.json()["detail"] == "no API key 'nope' (ids are 24 hexadecimal digits, as `keys list` shows them)"


def test_an_id_with_white_space_around_it_answers_404_saying_so(api: Api) -> None:
    """An id copied with a line's end (`"6b14…\\n"` in a body built from a shell variable) was answered "ids are 24
    hexadecimal digits"."""
    sid = api.session()["_id"]
    r = api.client.post("/api/threads/", json={"session_id": f"{sid}\n", "original_prompt": "hi"}, headers=api.alice)
    assert (r.status_code, r.json()["detail"]) == (
        404,
        f"no session '{sid}\\n' (ids are 24 hexadecimal digits, with no white space around them: '{sid}')",
    )
    assert api.client.get(f"/api/threads/session/{sid}", headers=api.alice).json() == []


def test_an_id_of_another_kind_of_ones_own_record_says_which_it_is(api: Api) -> None:
    """`POST /api/orchestration/start` takes a thread's id and answers the orchestration's: a client polling the
    status with the thread's id got "no orchestration '…'", as if the id were mistyped. Another user's ids still
    answer exactly as missing ones."""
    sid = api.session()["_id"]
    tid = api.thread(sid)["_id"]
    oid = api.start(tid)["_id"]
    r = api.client.get(f"/api/orchestration/status/{tid}", headers=api.alice)
    assert (r.status_code, r.json()["detail"]) == (
        404,
        f"no orchestration '{tid}': it is the id of a thread (GET /api/threads/{tid})",
    )
    r = api.client.get(f"/api/threads/{oid}", headers=api.alice)
    assert r.json()["detail"] == (
        f"no thread '{oid}': it is the id of an orchestration (GET /api/orchestration/status/{oid})"
    )
    r = api.client.post("/api/orchestration/start", json={"thread_id": sid}, headers=api.alice)
    assert r.json()["detail"] == f"no thread '{sid}': it is the id of a session (GET /api/sessions/{sid})"
    for path, kind, ident in (
        ("/api/orchestration/status/{}", "orchestration", tid),
        ("/api/threads/{}", "thread", oid),
        ("/api/sessions/{}", "session", tid),
    ):
        theirs = api.client.get(path.format(ident), headers=api.bob)
        assert (theirs.status_code, theirs.json()["detail"]) == (404, f"no {kind} '{ident}'")


def test_every_422_lists_the_invalid_parameter_or_field_under_errors(api: Api) -> None:
    """docs/server.md: "422 also lists the invalid fields under `errors`". It did when pydantic refused the value
    (`?limit=ten`), not when the server did (`?limit=%2B5`, a parameter or body field given twice, a WebSocket's
    `since`): a client reading `errors` from every 422 failed with a KeyError on those."""
    sid = api.session()["_id"]
    refused = [
        (api.client.get(f"/api/threads/session/{sid}?limit=%2B5", headers=api.alice), ["query", "limit"]),
        (api.client.get("/api/sessions/user/alice?offset=1_0", headers=api.alice), ["query", "offset"]),
        (api.client.get("/api/sessions/user/alice?limit=5&limit=7", headers=api.alice), ["query", "limit"]),
        (api.client.get("/api/admin/keys/?user_id=alice&user_id=bob", headers=api.admin), ["query", "user_id"]),
        (
            api.client.post(
                "/api/sessions/",
                content=b'{"max_iterations": 2, "max_iterations": 3}',
                headers={**api.alice, "Content-Type": "application/json"},
            ),
            ["body", "max_iterations"],
        ),
    ]
    for since in ("abc", "7", "1&since=2"):
        with (
            pytest.raises(WebSocketDenialResponse) as denied,
            api.client.websocket_connect(f"/ws/{sid}?since={since}", headers=api.alice),
        ):
            pass
        refused.append((denied.value, ["query", "since"]))
    for answer, loc in refused:
        body = answer.json()
        assert answer.status_code == 422 == body["status_code"], body
        (error,) = body["errors"]
        assert error["loc"] == loc, body
        assert body["detail"].endswith(error["msg"]) and error["type"], body
    ten = api.client.get("/api/sessions/user/alice?limit=ten", headers=api.alice).json()
    plus = api.client.get("/api/sessions/user/alice?limit=%2B5", headers=api.alice).json()
    assert ten["errors"][0]["type"] == plus["errors"][0]["type"] == "int_parsing"
