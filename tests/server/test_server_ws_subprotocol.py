"""The event stream's key in the `Sec-WebSocket-Protocol` header (`orchestratex, bearer.<key>`), the one header a
browser's WebSocket can set: `?token=<key>` put it in the URL, which Chromium writes to the devtools console on every
failed attempt and proxies log. `?token=` and the headers still serve."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest
import websockets
from starlette.testclient import WebSocketDenialResponse

from orchestratex.server import issue_api_key
from orchestratex.stores import MemoryStore

from .conftest import Api
from .server_process import ServerProcess, create_key

TCHAR = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""An HTTP token (RFC 9110, 5.6.2), which a subprotocol is (RFC 6455, 4.1)."""


def offered(key: str) -> list[str]:
    return ["orchestratex", f"bearer.{key}"]


def refusal(api: Api, path: str, subprotocols: list[str], headers: dict[str, str] | None = None) -> tuple[int, str]:
    with pytest.raises(WebSocketDenialResponse) as refused:
        with api.client.websocket_connect(path, subprotocols=subprotocols, headers=headers or {}):
            pass
    body = refused.value.json()
    assert body["status_code"] == refused.value.status_code
    return refused.value.status_code, body["detail"]


def test_the_key_in_a_subprotocol_opens_the_stream_answered_with_the_plain_subprotocol(api: Api) -> None:
    sid = api.session()["_id"]
    oid = api.start(api.thread(sid)["_id"], settings={"max_iterations": 1})["_id"]
    api.wait(oid)
    with api.client.websocket_connect(f"/ws/{sid}?since=0", subprotocols=offered(api.keys["alice"])) as ws:
        assert ws.accepted_subprotocol == "orchestratex"  # (never the key)
        assert ws.receive_json()["type"] == "orchestration_started"
    # offered in the other order, or with another subprotocol besides: the same
    subprotocols = [f"bearer.{api.keys['alice']}", "graphql-ws", "orchestratex"]
    with api.client.websocket_connect(f"/ws/{sid}", subprotocols=subprotocols) as ws:
        assert ws.accepted_subprotocol == "orchestratex"
        assert ws.receive_json()["seq"] == 1


def test_the_token_parameter_and_the_headers_still_serve(api: Api) -> None:
    sid = api.session()["_id"]
    key = api.keys["alice"]
    for path, headers in (
        (f"/ws/{sid}?token={key}", {}),
        (f"/ws/{sid}", api.alice),
        (f"/ws/{sid}", {"X-API-Key": key}),
    ):
        with api.client.websocket_connect(path, headers=headers) as ws:
            assert ws.accepted_subprotocol is None  # (none offered: none answered, as before)
    with api.client.websocket_connect(f"/ws/{sid}?token={key}", subprotocols=["orchestratex"]) as ws:
        assert ws.accepted_subprotocol == "orchestratex"
    with api.client.websocket_connect(f"/ws/{sid}", subprotocols=offered(key), headers=api.alice) as ws:
        assert ws.accepted_subprotocol == "orchestratex"  # (the same key twice: one key)


def test_a_wrong_key_in_the_subprotocol_is_refused_as_in_the_url(api: Api) -> None:
    sid = api.session()["_id"]
    status, detail = refusal(api, f"/ws/{sid}", offered("ox_wrong"))
    assert status == 401 and detail.startswith("unknown API key: this server's store lives in its memory")
    status, detail = refusal(api, f"/ws/{sid}", offered(api.keys["bob"]))
    assert status == 404  # (not bob's session: as for his key in `?token=`)
    status, detail = refusal(api, f"/ws/{sid}", ["orchestratex", "bearer."])
    assert (status, detail) == (401, "the `bearer.` subprotocol holds no key: offer `orchestratex` and `bearer.<key>`")
    status, detail = refusal(api, f"/ws/{sid}", ["orchestratex"])
    assert status == 401 and detail.startswith("missing API key: offer the subprotocols `orchestratex` and `bearer.")


def test_a_key_in_the_subprotocol_without_orchestratex_is_refused_saying_what_to_offer(api: Api) -> None:
    """Answering with no subprotocol fails the connection in a browser (it offered some), and answering with the one
    offered would echo the key."""
    sid = api.session()["_id"]
    status, detail = refusal(api, f"/ws/{sid}", [f"bearer.{api.keys['alice']}"])
    assert status == 400
    assert detail == (
        "the key is offered as the `bearer.<key>` subprotocol without `orchestratex`: offer both"
        " (`Sec-WebSocket-Protocol: orchestratex, bearer.<key>`), and the server answers `orchestratex`"
    )
    assert api.keys["alice"] not in detail


def test_two_different_keys_in_the_subprotocol_and_elsewhere_are_refused(api: Api) -> None:
    sid = api.session()["_id"]
    alice, bob = api.keys["alice"], api.keys["bob"]
    status, detail = refusal(api, f"/ws/{sid}?token={bob}", offered(alice))
    assert status == 400
    assert "two different API keys (in `?token=` and `Sec-WebSocket-Protocol: bearer.<key>`)" in detail
    status, detail = refusal(api, f"/ws/{sid}", offered(alice), headers=api.bob)
    assert status == 400 and "`Authorization: Bearer`" in detail and alice not in detail and bob not in detail
    status, detail = refusal(api, f"/ws/{sid}", [*offered(alice), f"bearer.{bob}"])
    assert status == 400 and "given twice" in detail
    gateway = {"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.gateway-token"}  # (a proxy's token: the key is ours)
    with api.client.websocket_connect(f"/ws/{sid}", subprotocols=offered(alice), headers=gateway) as ws:
        assert ws.accepted_subprotocol == "orchestratex"


async def test_every_key_issued_is_a_subprotocol_token_as_it_is() -> None:
    """A browser throws `SyntaxError` for a subprotocol that is no token: the console sends the key unencoded."""
    store = MemoryStore()
    for _ in range(200):
        key = await issue_api_key(store, "alice")
        assert TCHAR.fullmatch(f"bearer.{key}"), key


@pytest.mark.slow
def test_a_real_server_takes_the_key_from_the_subprotocol_of_a_websockets_client(tmp_path: Path) -> None:
    """Against `orchestratex serve`, with the `websockets` client: the key in the subprotocol, never in the URL, nor
    in the server's answer or log."""
    url = f"sqlite:///{tmp_path / 'ox.db'}"
    key = create_key(url, "alice")
    with ServerProcess(url, tmp_path, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.01"}) as server:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
            sid = client.post("/api/sessions/", json={"max_iterations": 1}).json()["_id"]
            body = {"session_id": sid, "original_prompt": "Name a prime number"}
            tid = client.post("/api/threads/", json=body).json()["_id"]

            async def follow() -> list[str]:
                protocols = [websockets.Subprotocol(p) for p in offered(key)]
                async with websockets.connect(f"{server.ws_url}/ws/{sid}", subprotocols=protocols) as ws:
                    assert ws.subprotocol == "orchestratex"
                    assert ws.response is not None and key not in str(ws.response.headers)
                    assert client.post("/api/orchestration/start", json={"thread_id": tid}).status_code == 202
                    types: list[str] = []
                    async for raw in ws:
                        types.append(json.loads(raw)["type"])
                        if types[-1] in ("orchestration_completed", "orchestration_failed"):
                            return types
                return types

            types = asyncio.run(asyncio.wait_for(follow(), 60))
            assert types[0] == "orchestration_started" and types[-1] == "orchestration_completed"

            async def refused(protocols: list[str]) -> int:
                with pytest.raises(websockets.InvalidStatus) as answer:
                    subprotocols = [websockets.Subprotocol(p) for p in protocols]
                    async with websockets.connect(f"{server.ws_url}/ws/{sid}", subprotocols=subprotocols):
                        pass
                return answer.value.response.status_code

            assert asyncio.run(refused(offered("ox_wrong"))) == 401
            assert asyncio.run(refused([f"bearer.{key}"])) == 400

            async def by_token() -> str:
                async with websockets.connect(f"{server.ws_url}/ws/{sid}?token={key}") as ws:
                    event: dict[str, str] = json.loads(await ws.recv())
                    return event["type"]

            assert asyncio.run(by_token()) == "orchestration_started"  # (`?token=` kept for the clients using it)
    assert key not in server.log()


@pytest.mark.slow
def test_a_subprotocol_header_that_does_not_parse_is_refused_without_echoing_the_key(tmp_path: Path) -> None:
    """A client that does not check its subprotocols (browsers and `websockets` do) sent the key as it was kept, in
    quotes: the 400 quoted the header, key included, and told the client to send `Sec-WebSocket-Key` and
    `Sec-WebSocket-Version`, which it had sent."""
    import socket

    url = f"sqlite:///{tmp_path / 'ox.db'}"
    key = create_key(url, "alice")
    with ServerProcess(url, tmp_path, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}) as server:
        for offer in (f'orchestratex, bearer."{key}"', f"orchestratex, bearer.{key};", f"orchestratex bearer.{key}"):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(
                    f"GET /ws/0123456789abcdef01234567 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {offer}\r\n\r\n".encode()
                )
                answer = b""
                while chunk := sock.recv(4096):
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400"), answer
            assert key.encode() not in answer and key[:12].encode() not in answer, answer
            assert json.loads(body) == {
                "detail": "the Sec-WebSocket-Protocol header is not a list of subprotocol names (tokens separated by"
                " commas): offer `orchestratex, bearer.<key>`, the key as `orchestratex keys create` printed it (no"
                " quotes, no spaces)",
                "status_code": 400,
            }
    assert key not in server.log()


def test_under_a_server_without_denial_responses_a_refusal_is_a_close_code_the_browser_reads(api: Api) -> None:
    """An ASGI server without the WebSocket denial response extension gets the refusal as a close code (4000 + the
    status) after an accept; that accept named no subprotocol, and a browser, which offered `orchestratex` beside
    its key, fails such a connection without reading the close code."""
    from starlette.testclient import TestClient
    from starlette.types import Receive, Scope, Send

    app = api.client.app

    async def no_denial_responses(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope = {**scope, "extensions": {}}
        await app(scope, receive, send)

    sid = api.session()["_id"]
    client = TestClient(no_denial_responses)
    with client.websocket_connect(f"/ws/{sid}", subprotocols=offered("ox_wrong")) as ws:
        assert ws.accepted_subprotocol == "orchestratex"
        closed = ws.receive()
    assert closed["type"] == "websocket.close" and closed["code"] == 4401
    assert closed["reason"].startswith("unknown API key")


def test_a_since_past_the_end_is_said_to_a_browser_with_a_close_code(api: Api) -> None:
    """A browser is told nothing of a refused handshake (no status, no body: close code 1006), so a page whose position
    the server's store no longer has (restored from a backup) could not tell that 422 from a server restarting, and
    asked the same position again for good. To a client offering `orchestratex` the stream opens and closes with 4422
    and the server's reason; others still get the 422."""
    from starlette.websockets import WebSocketDisconnect

    from orchestratex.server import CLOSE_SINCE_PAST_END

    sid = api.session()["_id"]
    api.wait(api.start(api.thread(sid)["_id"], settings={"max_iterations": 1})["_id"])
    with api.client.websocket_connect(f"/ws/{sid}?since=900", subprotocols=offered(api.keys["alice"])) as ws:
        assert ws.accepted_subprotocol == "orchestratex"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == CLOSE_SINCE_PAST_END == 4422
    assert closed.value.reason == f"session {sid} has no event 900: reconnect with since=0"
    assert refusal(api, f"/ws/{sid}?since=900", [], api.alice)[0] == 422  # (without the subprotocol: as before)
