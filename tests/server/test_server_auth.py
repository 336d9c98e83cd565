"""The 401 of a request whose `Authorization` header is not `Bearer <key>` says so: it said "missing API key" to a
client that had sent one (`Basic …`, `Token …`, the key without its scheme), which reads as a lost header."""

from __future__ import annotations

import pytest
from starlette.testclient import WebSocketDenialResponse

from .conftest import Api


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Basic {key}", "the Authorization header uses the 'Basic' scheme, not `Bearer`: send `Authorization: Bearer"),
        ("Token {key}", "the Authorization header uses the 'Token' scheme, not `Bearer`"),
        ("{key}", "the Authorization header holds a key without its scheme: send `Authorization: Bearer <key>`"),
        ("Bearer", "the Authorization header says `Bearer` but holds no key"),
        ("Bearer:{key}", "the Authorization header uses another scheme, not `Bearer`"),
    ],
)
def test_an_authorization_header_that_is_not_bearer_is_named(api: Api, header: str, detail: str) -> None:
    key = api.keys["alice"]
    for path in ("/api/models/", "/metrics"):
        r = api.client.get(path, headers={"Authorization": header.format(key=key)})
        assert r.status_code == 401, r.text
        assert r.json()["detail"].startswith(detail), r.text
        assert key not in r.text and r.headers["WWW-Authenticate"] == "Bearer"


def test_no_header_is_still_a_missing_key_and_x_api_key_still_wins(api: Api) -> None:
    r = api.client.get("/api/models/")
    assert r.status_code == 401 and r.json()["detail"].startswith("missing API key: send `Authorization: Bearer")
    basic = {"Authorization": "Basic dXNlcjpwdw==", "X-API-Key": api.keys["alice"]}
    assert api.client.get("/api/models/", headers=basic).status_code == 200


def test_the_v1_routes_and_the_event_stream_name_a_header_that_is_not_bearer_too(api: Api) -> None:
    key, sid = api.keys["alice"], api.session()["_id"]
    basic = {"Authorization": f"Basic {key}"}
    r = api.client.get("/v1/models", headers=basic)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key", r.text
    assert r.json()["error"]["message"].startswith("the Authorization header uses the 'Basic' scheme, not `Bearer`")
    assert key not in r.text
    with pytest.raises(WebSocketDenialResponse) as refused:
        with api.client.websocket_connect(f"/ws/{sid}", headers=basic):
            pass
    assert refused.value.status_code == 401
    assert refused.value.json()["detail"].startswith("the Authorization header uses the 'Basic' scheme, not `Bearer`")
    with api.client.websocket_connect(f"/ws/{sid}?token={key}", headers=basic) as ws:  # the token still serves
        assert ws.receive_json()["type"]


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        (
            {"X-API-Key": "Bearer {key}"},
            "unknown API key: it begins with `Bearer`, which goes only once, before the key, in `Authorization: Bearer"
            " <key>` (`X-API-Key` and an SDK's api_key take the key alone)",
        ),
        (  # an SDK given `api_key="Bearer ox_…"` adds its own `Bearer`
            {"Authorization": "Bearer Bearer {key}"},
            "unknown API key: it begins with `Bearer`, which goes only once",
        ),
        (  # `KEY="ox_…"` read from an env file that keeps the quotes
            {"Authorization": 'Bearer "{key}"'},
            "unknown API key: it is in quotes (as an env file may keep them): send the key without them",
        ),
        ({"X-API-Key": "'{key}'"}, "unknown API key: it is in quotes"),
        # (the fixture's stores live in memory, which `orchestratex keys create` cannot reach: tests/cli/test_serve.py)
        ({"X-API-Key": "ox_not-a-key"}, "unknown API key: this server's store lives in its memory"),
    ],
)
def test_a_key_wrapped_in_quotes_or_a_second_bearer_is_named_not_unknown(
    api: Api, headers: dict[str, str], detail: str
) -> None:
    """Such a key was answered "unknown API key (create one with `orchestratex keys create USER_ID`)", sending the user
    to create a key they had."""
    key, sid = api.keys["alice"], api.session()["_id"]
    sent = {name: value.format(key=key) for name, value in headers.items()}
    r = api.client.get("/api/models/", headers=sent)
    assert r.status_code == 401 and r.json()["detail"].startswith(detail), r.text
    assert key not in r.text
    v1 = api.client.get("/v1/models", headers=sent)
    assert v1.status_code == 401 and v1.json()["error"]["message"].startswith(detail), v1.text
    with pytest.raises(WebSocketDenialResponse) as refused:
        with api.client.websocket_connect(f"/ws/{sid}", headers=sent):
            pass
    assert refused.value.status_code == 401 and refused.value.json()["detail"].startswith(detail)


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        (
            "",
            "missing API key: offer the subprotocols `orchestratex` and `bearer.<key>` (a browser: `new WebSocket(url,"
            ' ["orchestratex", "bearer." + key])`), or send `Authorization: Bearer <key>` or `X-API-Key: <key>`',
        ),
        ("?since=0", "missing API key: offer the subprotocols `orchestratex` and `bearer.<key>`"),
        ("?token=", "the `token` query parameter is empty: give the key (`?token=<key>`)"),
    ],
)
def test_a_websocket_without_a_key_is_told_of_the_subprotocol(api: Api, query: str, detail: str) -> None:
    """The 401 told a browser's WebSocket, which can send no header but its subprotocols, to send `Authorization` or
    `X-API-Key` only (then to put its key in the URL, `?token=`, where the browser and proxies log it); and `?token=`
    left empty (a variable that held nothing) was "missing API key" too."""
    sid = api.session()["_id"]
    with pytest.raises(WebSocketDenialResponse) as refused:
        with api.client.websocket_connect(f"/ws/{sid}{query}"):
            pass
    assert refused.value.status_code == 401 and refused.value.json()["detail"].startswith(detail)
    r = api.client.get("/api/models/")
    assert r.json()["detail"] == "missing API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"


def test_a_gateways_bearer_token_beside_x_api_key_leaves_the_key_to_x_api_key(api: Api) -> None:
    """Behind an API gateway or an identity-aware proxy that passes its own `Authorization: Bearer <token>` on, a client
    sending its key in `X-API-Key` was answered 401 "unknown API key": the gateway's token was taken for the key."""
    sid = api.session()["_id"]
    both = {"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.gateway-token", "X-API-Key": api.keys["alice"]}
    assert api.client.get(f"/api/sessions/{sid}", headers=both).status_code == 200
    assert api.client.get("/v1/models", headers=both).status_code == 200
    with api.client.websocket_connect(f"/ws/{sid}", headers=both):
        pass  # (accepted: a refused handshake raises `WebSocketDenialResponse`)
    gateway = {"Authorization": both["Authorization"]}
    with api.client.websocket_connect(f"/ws/{sid}?token={api.keys['alice']}", headers=gateway):
        pass  # (a browser behind the proxy: its key in `?token=`)
    ours = {"Authorization": f"Bearer {api.keys['alice']}", "X-API-Key": api.keys["bob"]}  # (both ours: refused)
    assert api.client.get(f"/api/sessions/{sid}", headers=ours).status_code == 400
    alone = api.client.get("/api/models/", headers={"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.gateway-token"})
    assert alone.status_code == 401


def test_a_request_carrying_two_different_keys_is_refused_naming_where_they_are(api: Api) -> None:
    """A request with alice's key in `Authorization` and bob's in `X-API-Key` acted as alice without a word (the first
    header read won): whose request it is was the server's guess. It is now 400 on every route taking a key, before
    either key is looked at; the same key twice, or a value of another service beside the key, is still fine."""
    alice, bob, sid = api.keys["alice"], api.keys["bob"], api.session()["_id"]
    two = {"Authorization": f"Bearer {alice}", "X-API-Key": bob}
    for method, path in (("GET", f"/api/sessions/{sid}"), ("POST", "/api/sessions/"), ("GET", "/metrics")):
        r = api.client.request(method, path, headers=two, json={})
        assert (r.status_code, r.json()["detail"]) == (
            400,
            "the request carries two different API keys (in `Authorization: Bearer` and `X-API-Key`): send one key, so"
            " that it is clear whose request it is",
        ), (path, r.text)
        assert alice not in r.text and bob not in r.text
    assert (
        api.client.get("/v1/models", headers=two)
        .json()["error"]["message"]
        .startswith("the request carries two different API keys")
    )
    twice = api.client.get("/api/models/", headers=[("X-API-Key", alice), ("X-API-Key", bob)])
    assert twice.status_code == 400 and "(in `X-API-Key`, given twice)" in twice.json()["detail"]
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        api.client.websocket_connect(f"/ws/{sid}?token={bob}", headers={"X-API-Key": alice}),
    ):
        pass
    assert refused.value.status_code == 400 and "(in `?token=` and `X-API-Key`)" in refused.value.json()["detail"]
    same = {"Authorization": f"Bearer {alice}", "X-API-Key": alice}
    assert api.client.get(f"/api/sessions/{sid}", headers=same).status_code == 200
    with api.client.websocket_connect(f"/ws/{sid}?token={alice}", headers=same):
        pass
    aws = {"Authorization": f"Bearer {alice}", "X-API-Key": "d41d8cd98f00b204e9800998ecf8427e"}  # (an API gateway's)
    assert api.client.get(f"/api/sessions/{sid}", headers=aws).status_code == 200
