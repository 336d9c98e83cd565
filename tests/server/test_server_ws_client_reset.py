"""A WebSocket client that resets its connection while its stream is replayed (a browser tab closed, a phone losing
its network) is let go quietly by `orchestratex serve`: it made the server log `Exception in ASGI application`
with a traceback, one per such client."""

from __future__ import annotations

import base64
import os
import socket
import struct
import time
from pathlib import Path

import httpx
import pytest

from .server_process import ServerProcess, create_key

pytestmark = pytest.mark.slow


def _open_then_reset(port: int, path: str) -> bytes:
    """Open a WebSocket at `path`, read the start of the server's answer, then reset the connection (no close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        answer = sock.recv(100)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return answer


def test_clients_resetting_their_connection_during_the_replay_leave_no_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    with (
        # (a rate limit its status polling, 20 a second, cannot reach: the default, 100 a minute per session, can be on
        # a loaded runner, where the runs take longer, and a 429's body has no `status`)
        ServerProcess(
            url, tmp_path, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "0", "ORCHESTRATEX_RATE_LIMIT": "100000"}
        ) as server,
        httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}, timeout=30) as api,
    ):
        sid = api.post("/api/sessions/", json={"max_iterations": 3}).json()["_id"]
        for _ in range(3):  # (a history to replay: each run stores a few events)
            tid = api.post("/api/threads/", json={"session_id": sid, "original_prompt": "Name a prime"}).json()["_id"]
            run = api.post("/api/orchestration/start", json={"thread_id": tid}).json()["_id"]
            deadline = time.monotonic() + 60
            while api.get(f"/api/orchestration/status/{run}").json()["status"] not in ("completed", "failed"):
                assert time.monotonic() < deadline
                time.sleep(0.05)
        for _ in range(30):
            assert _open_then_reset(server.port, f"/ws/{sid}?token={key}").startswith(b"HTTP/1.1 101")
        time.sleep(1.0)
        assert api.get(f"/api/sessions/{sid}").status_code == 200
        log = server.log()
    assert "Exception in ASGI application" not in log, log
    assert "Traceback" not in log, log
