"""Connection limits of a real `orchestratex serve` process, probed with raw sockets on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .server_process import ServerProcess, create_key

pytestmark = pytest.mark.slow

LIMITS = {
    "ORCHESTRATEX_HEADER_TIMEOUT_S": "1",
    "ORCHESTRATEX_BODY_TIMEOUT_S": "1",
    "ORCHESTRATEX_MAX_HEADER_BYTES": "8192",
    "ORCHESTRATEX_MAX_CONNECTIONS": "12",
    "ORCHESTRATEX_MAX_CONNECTIONS_PER_CLIENT": "8",
    "ORCHESTRATEX_WS_SEND_TIMEOUT_S": "1",
    "ORCHESTRATEX_WS_MAX_MESSAGE_BYTES": "65536",
    "ORCHESTRATEX_SIM_LATENCY_SCALE": "0",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    tmp = tmp_path_factory.mktemp("connections")
    url = f"sqlite:///{tmp / 'server.db'}"
    key = create_key(url, "alice")
    with ServerProcess(url, tmp, env=LIMITS) as running:
        yield running, key


def _connect(server: ServerProcess, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5, source_address=(source, 0))


def _answer(sock: socket.socket, timeout: float = 30.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took.

    The server's deadlines here are of 1 s: the tests bound what they take at 10 s, which no keep-alive (75 s) nor a
    connection left waiting for ever meets, and which a loaded runner pausing the server or the test for a second or
    two does not pass (bounds of 1 and 4 s did)."""
    began = time.monotonic()
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data, time.monotonic() - began
        data += chunk


def _one_response(sock: socket.socket) -> bytes:
    """One whole response with a `content-length` (a single `recv` may end after its headers)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or b""
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def test_headers_that_never_end_get_408_and_the_connection_closed(server: tuple[ServerProcess, str]) -> None:
    with _connect(server[0]) as sock:
        sock.sendall(b"GET /api/models/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        answer, took = _answer(sock)
    assert _status(answer) == 408 and b"request headers took longer than 1 s" in answer
    assert took < 10


def test_an_idle_connection_is_closed(server: tuple[ServerProcess, str]) -> None:
    with _connect(server[0]) as sock:
        answer, took = _answer(sock)
    assert answer == b"" and took < 10


def test_a_half_sent_body_gets_408_and_the_connection_closed(server: tuple[ServerProcess, str]) -> None:
    proc, key = server
    with _connect(proc) as sock:
        sock.sendall(
            b"POST /api/sessions/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode() + b"\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user_id":'
        )
        answer, took = _answer(sock)
    assert _status(answer) == 408 and b"request body stalled for 1 s" in answer
    assert took < 10


def test_oversized_headers_get_431_before_they_are_read_whole(server: tuple[ServerProcess, str]) -> None:
    with _connect(server[0]) as sock:
        sock.sendall(b"GET /api/models/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000)
        answer, _ = _answer(sock)
    assert _status(answer) == 431 and b"request headers too large: the limit is 8192 bytes" in answer
    with _connect(server[0]) as sock:  # a whole oversized request, in one piece
        sock.sendall(b"GET /api/models/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9_000 + b"\r\n\r\n")
        answer, _ = _answer(sock)
    assert _status(answer) == 431


def test_headers_within_the_limit_and_a_body_pass(server: tuple[ServerProcess, str]) -> None:
    proc, key = server
    headers = {"Authorization": f"Bearer {key}", "X-Padding": "p" * 6000}
    body = {"user_id": "alice", "settings": {"preferred_models": ["gpt4"]}}
    r = httpx.post(f"{proc.base_url}/api/sessions/", json=body, headers=headers, timeout=10)
    assert r.status_code == 201, r.text
    with _connect(proc) as sock:  # headers and a large body arriving in the same packets
        payload = b'{"user_id": "alice", "max_iterations": 2' + b" " * 300_000 + b"}"
        head = f"POST /api/sessions/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        sock.sendall(head.encode() + payload)
        answer, _ = _answer(sock, timeout=10)
    assert _status(answer) == 201, answer[:300]


def test_connections_past_the_limit_are_refused_at_once(server: tuple[ServerProcess, str]) -> None:
    proc, key = server

    def refused(source: str, times: int = 3) -> list[bytes]:
        answers = []
        for _ in range(times):
            with _connect(proc, source) as sock:
                answer, _ = _answer(sock)
                assert _status(answer) == 503, answer  # at once: accepted, it would be a 408 after the 1 s deadline
                assert b"retry-after: 1" in answer.lower()
                answers.append(answer)
        return answers

    logged = len(proc.log())
    held = [_connect(proc) for _ in range(8)]  # the most one client address may open
    try:
        time.sleep(0.2)
        assert all(b"too many open connections from 127.0.0.1" in a for a in refused("127.0.0.1"))
        held += [_connect(proc, "127.0.0.2") for _ in range(4)]  # another client: 12 in all, the limit
        time.sleep(0.2)
        assert all(b"the server has too many open connections" in a for a in refused("127.0.0.3"))
    finally:
        for sock in held:
            sock.close()
    _wait_until_served(proc, key)
    assert "Traceback" not in proc.log()
    # The log says every refusal, by cause, within 10 s: the first at once, those after it in the next line. (The
    # others waited for the next refusal, however much later, and were then all put under that refusal's cause.)
    deadline = time.monotonic() + 15
    while True:
        said = _refusals_logged(proc.log()[logged:])
        if said == {"from 127.0.0.1 (`max_connections_per_client`)": 3, "(`max_connections`)": 3}:
            break
        assert time.monotonic() < deadline, said
        time.sleep(0.25)


def _refusals_logged(log: str) -> dict[str, int]:
    """The refused connections the log's lines count, by what they say refused them."""
    counts: dict[str, int] = {}
    for count, cause in re.findall(r"refused (\d+) connection\(s\) in the last [\d.]+ s: \d+ were open (.+)", log):
        counts[cause] = counts.get(cause, 0) + int(count)
    return counts


def test_a_refused_client_that_sent_its_request_at_once_reads_the_503_not_a_reset(
    server: tuple[ServerProcess, str],
) -> None:
    """A client sends its request as soon as it is connected, before the server has looked at the connection.
    Closed with that request unread, the socket would be reset and the 503 lost on its way (29 of 30 were, before):
    the client must read the 503 and its `Retry-After`, which SDKs retry, not a connection error."""
    proc, _ = server
    request = (
        b"POST /api/sessions/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )
    held = [_connect(proc) for _ in range(8)]  # the most one client address may open
    try:
        time.sleep(0.2)
        answers = []
        for _ in range(20):
            with _connect(proc) as sock:
                try:
                    sock.sendall(request)
                    answers.append(_answer(sock)[0])
                except ConnectionResetError:
                    answers.append(b"(reset)")
        assert all(a.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in a.lower() for a in answers), [
            a[:40] for a in answers
        ]
    finally:
        for sock in held:
            sock.close()
    _wait_until_served(proc, server[1])


def _wait_until_served(proc: ServerProcess, key: str) -> None:
    deadline = time.monotonic() + 10
    while True:  # the held ones are gone: the server answers again
        try:
            r = httpx.get(f"{proc.base_url}/api/models/", headers={"Authorization": f"Bearer {key}"}, timeout=5)
            if r.status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not take connections again"
        time.sleep(0.1)


def test_serve_on_a_corrupt_database_says_so_in_one_line(tmp_path: Path) -> None:
    import subprocess

    from .server_process import CLI, child_env, free_port

    db = tmp_path / "corrupt.db"
    db.write_bytes(b"this is not a database, not at all" * 200)
    done = subprocess.run(
        [*CLI, "serve", "--port", str(free_port()), "--store", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "file is not a database" in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2, done.stderr


@pytest.mark.parametrize("forwarded_for", [None, "203.0.113.7"])
def test_a_websocket_client_that_does_not_read_is_dropped_early(
    server: tuple[ServerProcess, str], forwarded_for: str | None
) -> None:
    """Also behind a reverse proxy on the same host (whose `X-Forwarded-For` uvicorn trusts from 127.0.0.1): the
    connection was looked up by the client's address, which uvicorn had replaced by the forwarded one, so it was
    never found and never reset, and the kernel held the megabytes the client did not take."""
    proc, key = server
    forwarded = f"X-Forwarded-For: {forwarded_for}\r\n" if forwarded_for else ""
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=proc.base_url, headers=auth, timeout=30) as client:
        sid = client.post("/api/sessions/", json={}).json()["_id"]
        tid = client.post("/api/threads/", json={"session_id": sid, "original_prompt": "Explain TCP"}).json()["_id"]
        for i in range(8):  # about 8 MB of events: each run's first event carries its 1 MB prompt
            body = {"thread_id": tid, "prompt": f"{i} " + "x" * 1_000_000, "settings": {"max_iterations": 1}}
            oid = client.post("/api/orchestration/start", json=body).json()["_id"]
            deadline = time.monotonic() + 30
            while client.get(f"/api/orchestration/status/{oid}").json()["status"] in ("pending", "running"):
                assert time.monotonic() < deadline
                time.sleep(0.05)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", proc.port))
    with sock:
        sock.sendall(
            f"GET /ws/{sid}?since=0 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {key}\r\n{forwarded}\r\n".encode()
        )
        client_port = sock.getsockname()[1]
        deadline = time.monotonic() + 10  # the replay fills the socket's buffers and stalls: past 1 s, it is dropped
        while _server_side_state(proc.port, client_port) is not None:
            # (a plain close left the socket in FIN-WAIT-1 for minutes, the kernel holding megabytes for the client)
            state = _server_side_state(proc.port, client_port)
            assert time.monotonic() < deadline, (
                f"the server still holds the connection of a client that does not read: {state}"
            )
            time.sleep(0.2)
        received = 0
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(1 << 20):
                received += len(chunk)
    assert received < 1_000_000, received  # what was already in the client's buffers, not the rest of the replay
    assert httpx.get(f"{proc.base_url}/api/models/", headers=auth, timeout=10).status_code == 200


@pytest.mark.parametrize("path", ["/api/threads/session/{sid}", "/api/threads/{tid}"])
def test_an_http_client_that_does_not_read_its_answer_is_dropped(server: tuple[ServerProcess, str], path: str) -> None:
    """A client that asked for large documents (a list of threads with 1 MB prompts, streamed; or one thread of
    4 MB, answered whole) and read nothing held its connection, the answer's unsent megabytes and, for a list, the
    request's handler, for ever: no timer runs while an answer is being sent. It is now reset after
    `body_timeout_s` in which it took nothing."""
    proc, key = server
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=proc.base_url, headers=auth, timeout=30) as client:
        sid = client.post("/api/sessions/", json={}).json()["_id"]
        for size in (1_000_000, 1_000_000, 1_000_000, 4_000_000):
            body = {"session_id": sid, "original_prompt": "x" * size}
            tid = client.post("/api/threads/", json=body).json()["_id"]  # (the last: more than the kernel takes)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", proc.port))
    with sock:
        target = path.format(sid=sid, tid=tid)
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n".encode())
        client_port = sock.getsockname()[1]
        deadline = time.monotonic() + 15  # the answer fills the socket's buffers and stalls: past 1 s, it is dropped
        while (state := _server_side_state(proc.port, client_port)) is not None:
            assert time.monotonic() < deadline, (
                f"the server still holds the answer of a client that does not read: {state}"
            )
            time.sleep(0.2)
    assert httpx.get(f"{proc.base_url}/api/models/", headers=auth, timeout=10).status_code == 200


def test_a_kept_alive_connection_whose_client_left_its_answer_unread_is_reset(tmp_path: Path) -> None:
    """An answer the kernel took whole (a 1 MB thread) sat there for a client that read none of it; once the
    connection had been idle `keep_alive_s`, it was closed, and the close waited behind that data, in FIN-WAIT-1,
    for minutes. It is now reset once the client has taken nothing of it for `body_timeout_s` more: the kernel drops
    what the client left."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    with ServerProcess(url, tmp_path, env={**LIMITS, "ORCHESTRATEX_KEEP_ALIVE_S": "2"}) as proc:
        with httpx.Client(base_url=proc.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            sid = client.post("/api/sessions/", json={}).json()["_id"]
            body = {"session_id": sid, "original_prompt": "x" * 1_000_000}
            tid = client.post("/api/threads/", json=body).json()["_id"]
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", proc.port))
        with sock:
            sock.sendall(f"GET /api/threads/{tid} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n".encode())
            client_port = sock.getsockname()[1]
            deadline = time.monotonic() + 15  # kept alive 2 s, then let go
            while (state := _server_side_state(proc.port, client_port)) is not None:
                assert time.monotonic() < deadline, f"the server still holds the unread answer: {state}"
                time.sleep(0.2)


def _server_side_state(server_port: int, client_port: int) -> tuple[str, int] | None:
    """The TCP state (`01` established, `04` FIN-WAIT-1, ...) and send queue in bytes of the server's end of the
    loopback connection from `client_port`, or None once the kernel holds nothing of it (Linux)."""
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs /proc/net/tcp")
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, queues = fields[1], fields[2], fields[3], fields[4]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            if state in ("06", "07"):  # TIME-WAIT, CLOSE: nothing held
                return None
            return state, int(queues.split(":")[0], 16)
    return None


def test_the_next_request_on_a_kept_alive_connection_has_a_header_deadline_too(
    server: tuple[ServerProcess, str],
) -> None:
    proc, key = server
    with _connect(proc) as sock:
        sock.sendall(f"GET /api/models/gpt4 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n".encode())
        sock.settimeout(5)
        first = _one_response(sock)
        assert _status(first) == 200
        time.sleep(0.5)
        sock.sendall(b"GET /api/models/ HTTP/1.1\r\nHost: x\r\n")  # ... and the rest never comes
        answer, took = _answer(sock)
    assert _status(answer) == 408 and took < 10


def test_a_websocket_message_over_the_limit_closes_the_stream(server: tuple[ServerProcess, str]) -> None:
    import asyncio

    import websockets

    proc, key = server
    sid = httpx.post(f"{proc.base_url}/api/sessions/", json={}, headers={"Authorization": f"Bearer {key}"}).json()[
        "_id"
    ]

    async def talk() -> int | None:
        async with websockets.connect(f"{proc.ws_url}/ws/{sid}?token={key}", max_size=None) as ws:
            await ws.send("x" * 100_000)  # the server reads and ignores messages, up to 64 KiB here
            try:
                async with asyncio.timeout(10):
                    async for _ in ws:
                        pass
            except websockets.ConnectionClosed:
                pass
            return ws.close_code

    assert asyncio.run(talk()) == 1009


@pytest.mark.parametrize(
    "message",
    [["x" * 10_000] * 100, "x" * 1_000_000, b"\0" * 1_000_000],
    ids=["1-MB-in-fragments", "1-MB-text", "1-MB-binary"],
)
def test_a_client_still_sending_a_large_message_gets_1009_not_a_reset(
    server: tuple[ServerProcess, str], message: str | bytes | list[str]
) -> None:
    """The server closed its socket right after its close frame: the rest of the message then arrived at a closed
    socket, the kernel answered with a reset, and the client saw 'connection reset' instead of 1009."""
    import asyncio

    import websockets

    proc, key = server
    sid = httpx.post(f"{proc.base_url}/api/sessions/", json={}, headers={"Authorization": f"Bearer {key}"}).json()[
        "_id"
    ]

    async def talk() -> tuple[int | None, str | None]:
        async with websockets.connect(f"{proc.ws_url}/ws/{sid}?token={key}", compression=None) as ws:
            try:
                await ws.send(iter(message) if isinstance(message, list) else message)
                async with asyncio.timeout(10):
                    async for _ in ws:
                        pass
            except websockets.ConnectionClosed as closed:
                return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, repr(closed.__cause__))
            return ws.close_code, ws.close_reason

    code, reason = asyncio.run(talk())
    assert code == 1009, reason
    assert reason is not None and "exceeds limit of 65536 bytes" in reason


def test_a_websocket_text_message_that_is_not_utf8_is_closed_with_1007_and_no_traceback(
    server: tuple[ServerProcess, str],
) -> None:
    """uvicorn closed with a bare 1007 and logged a traceback at ERROR for each such message: one per connection
    that any client with a key could repeat."""
    import os
    import struct

    proc, key = server
    sid = httpx.post(f"{proc.base_url}/api/sessions/", json={}, headers={"Authorization": f"Bearer {key}"}).json()[
        "_id"
    ]
    logged = len(proc.log())
    with _connect(proc) as sock:
        sock.sendall(
            f"GET /ws/{sid} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {key}\r\n\r\n".encode()
        )
        handshake = b""
        while b"\r\n\r\n" not in handshake:
            handshake += sock.recv(4096)
        assert handshake.startswith(b"HTTP/1.1 101")
        mask = os.urandom(4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(b"ok \xff\xfe"))
        sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + payload)  # a masked text frame, not UTF-8
        answer, _ = _answer(sock)
    frames = []  # (opcode, payload) of the server's unmasked frames
    while answer:
        length, start = answer[1], 2
        if length == 126:
            length, start = struct.unpack("!H", answer[2:4])[0], 4
        frames.append((answer[0] & 0x0F, answer[start : start + length]))
        answer = answer[start + length :]
    opcode, close = frames[-1]
    assert opcode == 8 and struct.unpack("!H", close[:2])[0] == 1007
    assert close[2:].decode() == "a text message must be UTF-8: invalid byte at position 3"
    time.sleep(0.5)
    assert "Traceback" not in proc.log()[logged:] and "ERROR" not in proc.log()[logged:]


@pytest.mark.parametrize(
    ("headers", "status", "said"),
    [
        ("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n", 426, "is not supported"),
        ("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", 400, "missing Sec-WebSocket-Version header"),
        ("Sec-WebSocket-Version: 13\r\n", 400, "missing Sec-WebSocket-Key header"),
        ("Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n", 400, "invalid Sec-WebSocket-Key header: short"),
    ],
)
def test_an_invalid_websocket_handshake_gets_the_json_error_body(
    server: tuple[ServerProcess, str], headers: str, status: int, said: str
) -> None:
    """Formerly websockets' plain text (`Failed to open a WebSocket connection: ...`), and a 400 without
    `Sec-WebSocket-Version` for another version, which RFC 6455 (4.4) requires."""
    proc, key = server
    with _connect(proc) as sock:
        sock.sendall(
            f"GET /ws/0123456789abcdef01234567 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"{headers}Authorization: Bearer {key}\r\n\r\n".encode()
        )
        answer, _ = _answer(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert _status(answer) == status
    assert b"\r\ncontent-type: application/json" in head.lower()
    error = json.loads(body)
    assert error["status_code"] == status and said in error["detail"]
    if status == 426:
        assert b"\r\nsec-websocket-version: 13" in head.lower()
        assert error["detail"] == "Sec-WebSocket-Version '8' is not supported: this server speaks 13"
    else:
        assert error["detail"].endswith("Sec-WebSocket-Version: 13, as WebSocket clients do")


@pytest.mark.parametrize(
    ("request_head", "said"),
    [
        ("GET /ws/0123456789abcdef01234567 HTTP/1.1\r\nContent-Length: 3\r\n", "unsupported request body"),
        ("POST /ws/0123456789abcdef01234567 HTTP/1.1\r\nContent-Length: 3\r\n", "unsupported request body"),
    ],
)
def test_a_handshake_websockets_cannot_read_gets_the_json_error_body(
    server: tuple[ServerProcess, str], request_head: str, said: str
) -> None:
    """An opening request sent with a body was answered uvicorn's plain text "Failed to open a WebSocket connection:
    invalid request.", not the JSON error of every other refused handshake, nor why."""
    proc, key = server
    with _connect(proc) as sock:
        sock.sendall(
            f"{request_head}Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {key}\r\n\r\nabc".encode()
        )
        answer, _ = _answer(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert _status(answer) == 400
    assert b"\r\ncontent-type: application/json" in head.lower()
    assert json.loads(body) == {"detail": f"not a valid WebSocket handshake: {said}", "status_code": 400}


def test_a_handshake_refusal_keeps_websockets_status_and_headers_with_the_json_body() -> None:
    from websockets.exceptions import InvalidHeader, InvalidUpgrade
    from websockets.server import ServerProtocol

    from orchestratex.server._ws_linger import handshake_refusal

    reject = ServerProtocol().reject
    twice = handshake_refusal(reject(400, "x"), InvalidHeader("Sec-WebSocket-Version", "multiple values"))
    assert (
        twice.status_code == 400
        and "invalid Sec-WebSocket-Version header: multiple values" in json.loads(twice.body)["detail"]
    )
    upgrade = reject(426, "Failed to open a WebSocket connection: invalid Connection header: keep-alive.\n")
    upgrade.headers["Upgrade"] = "websocket"
    no_upgrade = handshake_refusal(upgrade, InvalidUpgrade("Connection", "keep-alive"))
    assert (no_upgrade.status_code, no_upgrade.headers["Upgrade"], no_upgrade.headers["Connection"]) == (
        426,
        "websocket",
        "close",
    )
    assert json.loads(no_upgrade.body) == {
        "detail": "not a valid WebSocket handshake: invalid Connection header: keep-alive",
        "status_code": 426,
    }
    failed = handshake_refusal(reject(500, "Failed to open a WebSocket connection.\n"), RuntimeError())
    assert json.loads(failed.body)["detail"] == "the WebSocket handshake failed on the server: see its log"
    assert failed.headers["Content-Type"] == "application/json"


def test_the_protocols_refusals_count_in_the_limits_metric(tmp_path: Path) -> None:
    """The 408s (headers or a body too slow), 431s (headers too large) and 503s (past the connection limits) are
    answered by the server's HTTP protocol, before any request reaches the app: `orchestratex_limits_hit_total`
    counted none of them, so a slowloris flood or clients with oversized cookies moved no metric at all. Nor the 400s
    for requests its parser cannot read, nor the WebSocket handshakes it refuses as invalid, which it does not log
    either: a flood of those left no trace anywhere."""
    from prometheus_client.parser import text_string_to_metric_families

    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    env = {**LIMITS, "ORCHESTRATEX_METRICS": "open", "ORCHESTRATEX_MAX_CONNECTIONS_PER_CLIENT": "2"}

    def hits(proc: ServerProcess) -> dict[str, float]:
        text = httpx.get(f"{proc.base_url}/metrics", timeout=10).text
        (family,) = [f for f in text_string_to_metric_families(text) if f.name == "orchestratex_limits_hit"]
        return {s.labels["limit"]: s.value for s in family.samples if s.name == "orchestratex_limits_hit_total"}

    with ServerProcess(url, tmp_path, env=env) as proc:
        before = hits(proc)
        assert {before[k] for k in ("header_timeout", "body_timeout", "header_size", "client_connections")} == {0.0}
        with _connect(proc) as sock:
            sock.sendall(b"GET /api/models/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            assert _status(_answer(sock)[0]) == 408
        with _connect(proc) as sock:
            sock.sendall(
                b"POST /api/sessions/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode() + b"\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            )
            assert _status(_answer(sock)[0]) == 408
        with _connect(proc) as sock:
            sock.sendall(b"GET /api/models/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9_000 + b"\r\n\r\n")
            assert _status(_answer(sock)[0]) == 431
        upgrade = b"GET /ws/x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        for unreadable, status in (
            (b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400),
            (upgrade + b"\r\n", 400),  # (no Sec-WebSocket-Key)
            (upgrade + b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", 426),
        ):
            with _connect(proc) as sock:
                sock.sendall(unreadable)
                assert _status(_answer(sock)[0]) == status
        with (
            _connect(proc, "127.0.0.2") as one,
            _connect(proc, "127.0.0.2") as two,
            _connect(proc, "127.0.0.2") as third,
        ):
            assert _status(_answer(third)[0]) == 503
            del one, two
        after = hits(proc)
    assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {
        "header_timeout": 1.0,
        "body_timeout": 1.0,
        "header_size": 1.0,
        "client_connections": 1.0,
        "invalid_request": 4.0,
    }


def test_a_client_dribbling_its_body_does_not_hold_a_graceful_stop(tmp_path: Path) -> None:
    """A graceful stop waited for every connection to close: a client sending its request body a byte every second
    (within the body timeout each time) held SIGTERM's stop for as long as it went on, long past the runs' grace,
    until a service manager's SIGKILL. The stop now ends `shutdown_grace_s` plus 5 s after it began."""
    import signal
    import threading

    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    env = {**LIMITS, "ORCHESTRATEX_BODY_TIMEOUT_S": "30", "ORCHESTRATEX_SHUTDOWN_GRACE_S": "1"}
    stop = threading.Event()
    with ServerProcess(url, tmp_path, env=env) as proc, _connect(proc) as sock:
        sock.sendall(
            b"POST /api/sessions/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
        )

        def dribble() -> None:
            while not stop.wait(1.0):
                try:
                    sock.sendall(b" ")
                except OSError:
                    return

        dribbler = threading.Thread(target=dribble)
        dribbler.start()
        try:
            time.sleep(1.5)  # (the request is under way: its app task reads the body)
            assert proc.proc is not None
            proc.proc.send_signal(signal.SIGTERM)
            proc.proc.wait(timeout=60)  # (it waited as long as the client went on: for ever)
        finally:
            stop.set()
            dribbler.join()
    assert "timeout graceful shutdown exceeded" in proc.log()
