"""A WebSocket client on a slow link gets a large event whole: it is waited for while it takes what it was sent."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from pathlib import Path

import httpx
import pytest

from .server_process import ServerProcess, create_key

pytestmark = pytest.mark.slow


async def _read_slowly(port: int, path: str, bytes_per_s: float, count: int) -> list[str]:
    """The types of the first `count` messages of a WebSocket read at about `bytes_per_s` (a slow link), or the close
    code it got instead; the socket's small receive buffer keeps the server from sending ahead of the reads."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    handshake = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await loop.sock_sendall(sock, handshake.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += await loop.sock_recv(sock, 4096)
    head, buf = buf.split(b"\r\n\r\n", 1)
    assert b" 101 " in head, head
    got: list[str] = []

    async def have(n: int) -> bytes:
        nonlocal buf
        while len(buf) < n:
            data = await loop.sock_recv(sock, 8192)
            if not data:
                raise ConnectionResetError("closed")
            buf += data
            await asyncio.sleep(len(data) / bytes_per_s)
        return buf

    with sock:
        try:
            while len(got) < count:
                first, second = (await have(2))[:2]
                size, at = second & 0x7F, 2
                if size == 126:
                    size, at = struct.unpack(">H", (await have(4))[2:4])[0], 4
                elif size == 127:
                    size, at = struct.unpack(">Q", (await have(10))[2:10])[0], 10
                payload = (await have(at + size))[at : at + size]
                buf = buf[at + size :]
                if first & 0x0F == 8:  # close
                    got.append(f"closed {struct.unpack('>H', payload[:2])[0]}")
                    break
                if first & 0x0F == 9:  # ping: answer it, as WebSocket clients do
                    mask = os.urandom(4)
                    pong = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                    await loop.sock_sendall(sock, bytes([0x8A, 0x80 | len(payload)]) + mask + pong)
                elif first & 0x0F == 1:
                    got.append(json.loads(payload)["type"])
        except ConnectionError:
            got.append("reset")
    return got


def test_a_client_that_reads_slowly_gets_an_event_larger_than_it_takes_in_the_send_timeout(tmp_path: Path) -> None:
    """An `orchestration_started` event carries its prompt: 4 MB take 10 s at 400 kB/s. The send after it was timed as
    a whole (`ws_send_timeout_s`), so the client was cut off in the middle of it (4008, or a reset); reconnecting with
    `since=` before it met the same event again, for ever. The client is now waited for while it takes its backlog."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    env = {"ORCHESTRATEX_WS_SEND_TIMEOUT_S": "2", "ORCHESTRATEX_SIM_LATENCY_SCALE": "0.01"}
    with ServerProcess(url, tmp_path, env=env) as server:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
            sid = client.post("/api/sessions/", json={"max_iterations": 1}).json()["_id"]
            body = {"session_id": sid, "original_prompt": "Summarise this log: " + "x" * 4_000_000}
            tid = client.post("/api/threads/", json=body).json()["_id"]
            assert client.post("/api/orchestration/start", json={"thread_id": tid}).status_code == 202
            got = asyncio.run(_read_slowly(server.port, f"/ws/{sid}?token={key}", 400_000, 2))
    assert got == ["orchestration_started", "model_selected"]
