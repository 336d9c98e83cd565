"""One real `orchestratex serve` process driven as clients really drive it: `httpx` (and `requests`-style bodies),
the `websockets` client, calls repeated on the same records."""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest
import websockets

from .server_process import ServerProcess, create_key

pytestmark = pytest.mark.slow


@dataclass
class Served:
    server: ServerProcess
    alice: httpx.Client
    admin: httpx.Client
    alice_key: str
    store_url: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("served")
    url = f"sqlite:///{tmp / 'server.db'}"
    alice, admin = create_key(url, "alice"), create_key(url, "ops", admin=True)
    with (
        ServerProcess(url, tmp, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.01"}) as server,
        httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {alice}"}, timeout=30) as a,
        httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {admin}"}, timeout=30) as ops,
    ):
        yield Served(server, a, ops, alice, url)


def test_a_json_body_without_a_content_type_is_told_to_send_one(served: Served) -> None:
    """As `requests.post(url, data=json.dumps(body))` sends it: no `Content-Type` header at all."""
    r = served.alice.post("/api/sessions/", content=json.dumps({"max_iterations": 2}).encode())
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "the request body must be JSON, sent with 'Content-Type: application/json' (the request has none)"
    )
    assert served.alice.post("/api/sessions/", json={"max_iterations": 2}).status_code == 201


def test_the_admin_keys_api_answers_documents_with_updated_at(served: Served) -> None:
    """Every document of the API carries `_id`, `created_at` and `updated_at` (the spec's common format)."""
    create_key(served.store_url, "dave")
    listed = served.admin.get("/api/admin/keys/", params={"user_id": "dave"})
    assert listed.status_code == 200
    (key,) = listed.json()
    assert {"_id", "created_at", "updated_at"} <= set(key)
    revoked = served.admin.delete(f"/api/admin/keys/{key['_id']}")
    assert revoked.status_code == 200
    assert revoked.json()["updated_at"] == revoked.json()["revoked_at"]


def test_an_id_in_capitals_is_answered_with_how_it_is_written(served: Served) -> None:
    sid = served.alice.post("/api/sessions/", json={}).json()["_id"]
    r = served.alice.get(f"/api/sessions/{sid.upper()}")
    assert (r.status_code, r.json()["detail"]) == (
        404,
        f"no session '{sid.upper()}' (ids are 24 hexadecimal digits in lowercase: '{sid}')",
    )

    async def handshake() -> websockets.InvalidStatus:
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(f"{served.server.ws_url}/ws/{sid.upper()}?token={served.alice_key}")
        return refused.value

    refused = asyncio.run(handshake())
    assert refused.response.status_code == 404
    assert f"in lowercase: '{sid}'" in json.loads(refused.response.body)["detail"]


def test_a_user_list_path_with_the_user_left_empty_says_so(served: Served) -> None:
    r = served.alice.get("/api/sessions/user/")
    assert (r.status_code, r.json()["detail"]) == (
        404,
        "no user given: the sessions of a user are listed at /api/sessions/user/{user_id}",
    )
    r = served.alice.get("/api/analytics/user/")
    assert (r.status_code, r.json()["detail"]) == (
        404,
        "no user given: the analytics of a user are at /api/analytics/user/{user_id}",
    )
    r = served.alice.head("/api/orchestration/status/")
    assert r.status_code == 404


def test_a_prompt_ending_in_half_an_emoji_is_refused_saying_where(served: Served) -> None:
    """A JavaScript client that cut a string between the two halves of an emoji sends `"…\\ud83d"`."""
    sid = served.alice.post("/api/sessions/", json={}).json()["_id"]
    body = json.dumps({"session_id": sid, "original_prompt": "Summarise this \ud83d"})  # (the escape, in ASCII)
    r = served.alice.post("/api/threads/", content=body, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["detail"]) == (
        400,
        "original_prompt holds a lone surrogate ('\\ud83d' at character 15), which is not text: send valid Unicode"
        " (a JSON \\u escape of a surrogate must be one of a pair)",
    )
    assert served.alice.get(f"/api/threads/session/{sid}").json() == []


def test_settings_null_takes_the_defaults(served: Served) -> None:
    created = served.alice.post("/api/sessions/", json={"max_iterations": 1, "settings": None})
    assert created.status_code == 201, created.text
    body = {"session_id": created.json()["_id"], "original_prompt": "Name a prime"}
    tid = served.alice.post("/api/threads/", json=body).json()["_id"]
    started = served.alice.post("/api/orchestration/start", json={"thread_id": tid, "settings": None})
    assert started.status_code == 202, started.text


def test_a_key_sent_in_another_query_parameter_stays_out_of_the_log(served: Served) -> None:
    """`?api_key=` and `?key=` are how other APIs take a key: the server reads neither (401), but logged it whole."""
    for name in ("api_key", "key"):
        r = httpx.get(f"{served.server.base_url}/api/models/?{name}={served.alice_key}", timeout=30)
        assert r.status_code == 401
    assert served.alice_key not in served.server.log()
    assert "/api/models/?api_key=ox_*** HTTP/1.1" in served.server.log()


def test_a_provider_key_sent_in_a_credential_query_parameter_stays_out_of_the_log(served: Served) -> None:
    """A client given the wrong key — its OpenAI or Gemini key (`?key=AIza…`, as the Gemini API takes it) — in the
    URL: the server answers 401, and its access log held that key whole, as it masked only keys of its own."""
    secrets = {"key": "AIzaSyD-example-gemini-key-0123456789ab", "api_key": "sk-proj-example0123456789abcdefXYZ"}
    for name, secret in secrets.items():
        r = httpx.get(f"{served.server.base_url}/v1/models?{name}={secret}", timeout=30)
        assert r.status_code == 401
    log = served.server.log()
    assert all(secret not in log for secret in secrets.values())
    assert "/v1/models?key=*** HTTP/1.1" in log and "/v1/models?api_key=*** HTTP/1.1" in log


def test_a_key_percent_encoded_in_the_path_stays_out_of_the_log(served: Served) -> None:
    """uvicorn logs the path as sent: `%6fx_…` (a client that encodes more than it must) is the key all the same."""
    encoded = "%6f" + served.alice_key[1:]
    r = httpx.get(f"{served.server.base_url}/api/sessions/user/{encoded}", timeout=30)
    assert r.status_code == 401
    log = served.server.log()
    assert encoded not in log and served.alice_key[1:] not in log
    assert "/api/sessions/user/ox_*** HTTP/1.1" in log


def test_a_key_in_quotes_is_named_as_such(served: Served) -> None:
    """`KEY="ox_…"` from an env file that keeps the quotes, sent as it is."""
    r = httpx.get(f"{served.server.base_url}/api/models/", headers={"X-API-Key": f'"{served.alice_key}"'}, timeout=30)
    assert r.status_code == 401
    assert (
        r.json()["detail"]
        == "unknown API key: it is in quotes (as an env file may keep them): send the key without them"
    )


def test_a_gzip_compressed_body_is_refused_saying_so(served: Served) -> None:
    body = gzip.compress(json.dumps({"max_iterations": 2}).encode())
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    r = served.alice.post("/api/sessions/", content=body, headers=headers)
    assert r.status_code == 415
    assert r.json()["detail"].startswith("the request body is sent with 'Content-Encoding: gzip'")


def test_an_id_copied_with_a_line_end_is_answered_with_how_it_is_written(served: Served) -> None:
    sid = served.alice.post("/api/sessions/", json={}).json()["_id"]
    r = served.alice.post("/api/threads/", json={"session_id": f"{sid}\n", "original_prompt": "hi"})
    assert r.status_code == 404
    assert r.json()["detail"].endswith(f"(ids are 24 hexadecimal digits, with no white space around them: '{sid}')")


def test_a_budget_given_twice_in_the_body_is_refused_not_dropped(served: Served) -> None:
    """Two fragments of a templated body merged: the second `settings` silently dropped the first's `cost_limit`."""
    body = '{"settings": {"cost_limit": 5.0}, "max_iterations": 2, "settings": {}}'
    r = served.alice.post("/api/sessions/", content=body, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["detail"]) == (
        422,
        "'settings' is given more than once in an object of the body: give each field once",
    )


def test_a_websocket_without_a_key_is_told_of_the_subprotocol(served: Served) -> None:
    sid = served.alice.post("/api/sessions/", json={}).json()["_id"]

    async def handshake(query: str) -> websockets.InvalidStatus:
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(f"{served.server.ws_url}/ws/{sid}{query}")
        return refused.value

    refused = asyncio.run(handshake(""))
    assert refused.response.status_code == 401
    detail = json.loads(refused.response.body)["detail"]
    assert "`orchestratex` and `bearer.<key>`" in detail and "?token=" not in detail  # (not the URL: it is logged)
    empty = asyncio.run(handshake("?token="))
    assert json.loads(empty.response.body)["detail"].startswith("the `token` query parameter is empty")


def test_a_model_list_split_at_its_commas_is_answered_with_the_name_meant(served: Served) -> None:
    models = "gpt4, claude".split(",")
    r = served.alice.post("/api/sessions/", json={"settings": {"preferred_models": models}})
    assert r.status_code == 400 and "did you mean 'claude'?" in r.json()["detail"]


def test_a_key_in_x_api_key_behind_a_gateway_that_sends_its_own_bearer_token(served: Served) -> None:
    headers = {"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.gateway-token", "X-API-Key": served.alice_key}
    r = httpx.get(f"{served.server.base_url}/api/models/gpt4", headers=headers, timeout=30)
    assert r.status_code == 200, r.text


def test_two_different_keys_in_one_request_are_refused_by_the_served_api_and_stream(served: Served) -> None:
    """`httpx` with a client-wide `Authorization` and a call's own `X-API-Key` sent both: the first acted silently."""
    bob = create_key(served.store_url, "bob-two-keys")
    r = served.alice.get("/api/sessions/user/bob-two-keys", headers={"X-API-Key": bob})
    assert r.status_code == 400 and r.json()["detail"].startswith("the request carries two different API keys")
    sid = served.alice.post("/api/sessions/", json={}).json()["_id"]

    async def handshake() -> websockets.InvalidStatus:
        url = f"{served.server.ws_url}/ws/{sid}?token={bob}"
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(url, additional_headers={"Authorization": f"Bearer {served.alice_key}"})
        return refused.value

    refused = asyncio.run(handshake())
    assert refused.response.status_code == 400
    assert b"(in `?token=` and `Authorization: Bearer`)" in refused.response.body


def test_a_prompt_with_a_raw_line_break_is_told_where_and_how_to_escape_it(served: Served) -> None:
    """`curl -d "{\"original_prompt\": \"$PROMPT\"}"` with a multi-line prompt sends its line breaks raw: the answer
    was "the request body is not valid JSON", with nothing of where or why."""
    sid = served.alice.post("/api/sessions/", json={}).json()["_id"]
    body = '{"session_id": "' + sid + '", "original_prompt": "Summarise:\nthe tides"}'
    r = served.alice.post("/api/threads/", content=body.encode(), headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["detail"]) == (
        400,
        "the request body is not valid JSON: Invalid control character at: line 1 column 74 (char 73); a line break"
        " or tab inside a string is written escaped (\\n, \\t)",
    )


def test_a_base_url_ending_in_a_slash_joined_to_a_path_is_told_of_its_slash_too_many(served: Served) -> None:
    base = served.server.base_url + "/"
    r = httpx.get(base + "/api/sessions/user/alice", headers={"X-API-Key": served.alice_key}, timeout=30)
    assert r.status_code == 404
    assert r.json()["detail"].endswith(
        "it has a / too many (//), as when a client's base URL ending in / is joined to"
        " a path beginning with one; send GET /api/sessions/user/alice"
    )


@pytest.mark.parametrize("path", ["/health//", "/health/ready//", "/metrics//"])
def test_a_probe_url_with_a_slash_too_many_is_a_404_not_an_empty_redirect(served: Served, path: str) -> None:
    """`curl -f http://host:8000/health//` passed on an empty 307 (to `/health`), as a probe's 3xx does."""
    r = httpx.get(served.server.base_url + path, headers={"X-API-Key": served.alice_key}, timeout=30)
    assert (r.status_code, r.json()["detail"]) == (
        404,
        f"Not Found: GET {path} is no URL of this server: it has a / too many (//), as when a client's base URL ending"
        f" in / is joined to a path beginning with one; send GET {path[:-1]}",
    )


def test_a_client_paging_with_skip_is_told_to_page_with_offset_not_served_the_first_page_for_ever(
    served: Served,
) -> None:
    """A client paging as FastAPI's tutorial and MongoDB do, `?skip=N&limit=M` until a page comes back short, was served
    the first page again and again: it never ended."""
    sid = served.alice.post("/api/sessions/", json={}).json()["_id"]
    ids = [
        served.alice.post("/api/threads/", json={"session_id": sid, "original_prompt": f"Name prime {n}"}).json()["_id"]
        for n in range(3)
    ]
    r = served.alice.get(f"/api/threads/session/{sid}", params={"skip": 2, "limit": 2})
    assert (r.status_code, r.json()["detail"]) == (
        422,
        "skip: not a query parameter of this list, which takes limit (most items, 1 to 1000) and offset (items to skip,"
        " 0 to 1000000) and filters nothing",
    )
    page = served.alice.get(f"/api/threads/session/{sid}", params={"offset": 2, "limit": 2}).json()
    assert [t["_id"] for t in page] == ids[2:]


def test_a_websocket_reconnecting_with_after_is_told_to_use_since(served: Served) -> None:
    """The `websockets` client reconnecting with `?after=N` was sent the session's whole history again."""
    sid = served.alice.post("/api/sessions/", json={}).json()["_id"]

    async def connect() -> None:
        url = f"{served.server.ws_url}/ws/{sid}?after=0&token={served.alice_key}"
        async with websockets.connect(url, max_size=None):
            pass

    with pytest.raises(websockets.InvalidStatus) as refused:
        asyncio.run(connect())
    assert refused.value.response.status_code == 422
    assert json.loads(refused.value.response.body)["detail"] == (
        "after: not a query parameter of the event stream, which takes since (the last seq received) and token"
    )


def test_a_session_patched_at_its_document_is_told_where_its_status_is_set(served: Served) -> None:
    sid = served.alice.post("/api/sessions/", json={}).json()["_id"]
    r = served.alice.patch(f"/api/sessions/{sid}", json={"status": "completed"})
    assert r.status_code == 405
    assert r.json()["detail"].endswith(
        f"; a session's status is set with PATCH /api/sessions/{sid}/status (completed or"
        " cancelled ends it and stops its runs)"
    )
    assert served.alice.patch(f"/api/sessions/{sid}/status", json={"status": "completed"}).status_code == 200


def test_the_status_asked_with_the_threads_id_says_it_is_a_thread(served: Served) -> None:
    sid = served.alice.post("/api/sessions/", json={"max_iterations": 1}).json()["_id"]
    tid = served.alice.post("/api/threads/", json={"session_id": sid, "original_prompt": "Name a prime"}).json()["_id"]
    assert served.alice.post("/api/orchestration/start", json={"thread_id": tid}).status_code == 202
    r = served.alice.get(f"/api/orchestration/status/{tid}")
    assert (r.status_code, r.json()["detail"]) == (
        404,
        f"no orchestration '{tid}': it is the id of a thread (GET /api/threads/{tid})",
    )


def test_a_limit_that_is_no_number_is_refused_in_the_words_of_the_others(served: Served) -> None:
    r = served.alice.get("/api/sessions/user/alice", params={"limit": "ten"})
    assert (r.status_code, r.json()["detail"]) == (422, "limit: must be a whole number in plain digits, not 'ten'")


@pytest.mark.parametrize("context", ["   ", "\n", "\u200b"])
def test_a_blank_context_is_no_context(served: Served, context: str) -> None:
    """A thread's context of white space (an empty form field sent with a space or a line break) was sent to the
    models as a bare "Context:" label after the prompt, which an empty context is not."""
    sid = served.alice.post("/api/sessions/", json={"max_iterations": 1}).json()["_id"]
    r = served.alice.post(
        "/api/threads/", json={"session_id": sid, "original_prompt": "Explain TCP", "context": context}
    )
    assert r.status_code == 201, r.text
    assert r.json()["context"] is None
    oid = served.alice.post("/api/orchestration/start", json={"thread_id": r.json()["_id"]}).json()["_id"]
    for _ in range(300):
        doc = served.alice.get(f"/api/orchestration/status/{oid}").json()
        if doc["status"] not in ("pending", "running"):
            break
        time.sleep(0.05)
    assert doc["status"] == "completed", doc
    assert doc["context"] is None
    assert doc["iterations"][0]["prompt"] == "Explain TCP"


@pytest.mark.parametrize("parameter", ["token", "api_key"])
def test_a_key_sent_in_the_url_of_a_rest_route_is_told_where_it_goes(served: Served, parameter: str) -> None:
    """`GET /api/models/?token=<key>` (the WebSocket's way, as the docs show it) was answered 401 "missing API key",
    though the client had sent one."""
    with httpx.Client(base_url=served.server.base_url, timeout=30) as anonymous:
        r = anonymous.get("/api/models/gpt4", params={parameter: served.alice_key})
    assert r.status_code == 401
    assert r.json()["detail"] == (
        f"missing API key: the key in the URL (`?{parameter}=`) is not read here, only a WebSocket reads"
        " `?token=<key>`: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"
    )
    assert served.alice_key not in r.text
    with httpx.Client(base_url=served.server.base_url, timeout=30) as anonymous:
        r = anonymous.get("/api/models/gpt4")
    assert r.json()["detail"] == "missing API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"


@pytest.mark.parametrize("end", ["\n", "\r\n", " "])
def test_a_websocket_token_with_a_line_end_is_read_as_the_key(served: Served, end: str) -> None:
    """A key read from a file with its line's end (`?token=ox_…%0A`) was refused 401 "unknown API key (create one
    …)", while the same key in a header is read without it (HTTP drops a header value's white space)."""
    sid = served.alice.post("/api/sessions/", json={}).json()["_id"]

    async def connect() -> None:
        url = f"{served.server.ws_url}/ws/{sid}?" + urlencode({"token": served.alice_key + end})
        async with websockets.connect(url) as ws:
            await ws.close()

    asyncio.run(connect())


@pytest.mark.parametrize(
    "request_line",
    [b"GET /api/sessions/user/bob smith HTTP/1.1", b"GARBAGE", b"GET /api/models/ HTTP/9.9"],
)
def test_a_request_the_server_cannot_read_gets_the_api_error_body(served: Served, request_line: bytes) -> None:
    """An unreadable request (a space left in the URL by a hand-written client) was answered with uvicorn's plain
    text `Invalid HTTP request received.`, the one error of the server a client could not read as JSON."""
    with socket.create_connection(("127.0.0.1", served.server.port), timeout=10) as sock:
        sock.sendall(request_line + b"\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer
    assert b"content-type: application/json" in head.lower()
    doc = json.loads(body)
    assert doc["status_code"] == 400
    assert doc["detail"].startswith("not a valid HTTP/1.1 request: check its request line")


@pytest.mark.parametrize(
    ("domain", "code"), [("acme\nINFO: injected", "U+000A"), ("a\x00b", "U+0000"), ("acme\u200b", "U+200B")]
)
def test_a_domain_holding_a_control_or_invisible_character_is_refused(served: Served, domain: str, code: str) -> None:
    """A thread's domain of one's own holding a NUL, a line's end or a zero-width space was stored (201) and routed
    on, its line break copied into the routing reasoning and `acme\\u200b` kept apart from `acme` in the statistics."""
    sid = served.alice.post("/api/sessions/", json={}).json()["_id"]
    r = served.alice.post("/api/threads/", json={"session_id": sid, "original_prompt": "Explain TCP", "domain": domain})
    assert r.status_code == 422, r.text
    assert f"holds the character {code}, which shows as nothing or breaks a line" in r.json()["detail"]
    assert served.alice.get(f"/api/threads/session/{sid}").json() == []


class _Http10Connection(http.client.HTTPConnection):
    """`http.client` speaking HTTP/1.0 (its own switch)."""

    _http_vsn = 10
    _http_vsn_str = "HTTP/1.0"


def test_an_http_1_0_client_reads_a_streamed_list_as_json(served: Served) -> None:
    """A list is streamed (its length unknown when it starts): it was sent chunked to HTTP/1.0 clients too (ApacheBench,
    `curl --http1.0`, a proxy speaking HTTP/1.0 to its upstream), which read `1\r\n[\r\n16f\r\n{…` as the body."""
    for _ in range(2):
        served.alice.post("/api/sessions/", json={})
    connection = _Http10Connection("127.0.0.1", served.server.port, timeout=30)
    try:
        connection.request("GET", "/api/sessions/user/alice?limit=2", headers={"X-API-Key": served.alice_key})
        answer = connection.getresponse()
        assert answer.status == 200
        assert answer.getheader("transfer-encoding") is None
        sessions = json.loads(answer.read())
    finally:
        connection.close()
    assert [s["user_id"] for s in sessions] == ["alice", "alice"]


_H2C_OFFER = b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n"
"""The cleartext HTTP/2 offer Java's `HttpClient`, Spring's `RestClient`, Ktor and `curl --http2` add to a request."""


def _answers(port: int, segments: list[bytes], count: int) -> list[tuple[int, bytes]]:
    """Send `segments` one at a time on one connection; the first `count` answers (status, body)."""
    answers: list[tuple[int, bytes]] = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        for segment in segments:
            sock.sendall(segment)
            time.sleep(0.2)  # (each its own TCP segment, as the clients write headers and body)
        stream = sock.makefile("rb")
        for _ in range(count):
            status = int(stream.readline().split()[1])
            headers = {}
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            answers.append((status, stream.read(int(headers["content-length"]))))
    return answers


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_request_offering_an_upgrade_to_http2_is_answered_with_its_body(served: Served, framing: str) -> None:
    """`Upgrade: h2c` (from a Java, Kotlin or Spring client) stopped the parser at the end of the headers: the session
    was refused 422 "the request body is empty", and the body, arriving after, was read as a request of its own (400).
    The offer is declined, the request answered as HTTP/1.1 with its body, and the next one on the connection too."""
    body = b'{"max_iterations": 4, "settings": {"cost_limit": 2.5}}'
    head = b"POST /api/sessions/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + _H2C_OFFER
    head += f"X-API-Key: {served.alice_key}\r\n".encode()
    if framing == "length":
        segments = [head + f"Content-Length: {len(body)}\r\n\r\n".encode(), body]
    else:
        segments = [head + b"Transfer-Encoding: chunked\r\n\r\n", b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)]
    then = f"GET /api/models/gpt4 HTTP/1.1\r\nHost: x\r\nX-API-Key: {served.alice_key}\r\n\r\n".encode()
    (status, answer), (next_status, _) = _answers(served.server.port, [*segments, then], 2)
    assert status == 201, answer
    session = json.loads(answer)
    assert (session["max_iterations"], session["settings"]["cost_limit"]) == (4, 2.5)
    assert next_status == 200
    offered_get = f"GET /api/models/gpt4 HTTP/1.1\r\nHost: x\r\nX-API-Key: {served.alice_key}\r\n".encode() + _H2C_OFFER
    assert [s for s, _ in _answers(served.server.port, [offered_get + b"\r\n", then], 2)] == [200, 200]
    assert "Unsupported upgrade request" not in served.server.log()
