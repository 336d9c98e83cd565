"""A live WebSocket whose queue overflows is closed with 4008: it never goes on with heartbeats while its events are
dropped (`orchestratex serve`, a real process and a real WebSocket client)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
import websockets

from .server_process import ServerProcess, create_key

pytestmark = pytest.mark.slow


async def _follow(server: ServerProcess, key: str, starts: int) -> tuple[list[int], int | None, int]:
    """Start `starts` runs in a new session while following it; returns the seqs the live stream sent, its close
    code (None while open) and how many events the session has stored."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as api:
        sid = (await api.post("/api/sessions/", json={"max_iterations": 2})).json()["_id"]
        threads = [
            (await api.post("/api/threads/", json={"session_id": sid, "original_prompt": f"Explain {i}"})).json()["_id"]
            for i in range(starts)
        ]
        seqs: list[int] = []
        async with websockets.connect(f"{server.ws_url}/ws/{sid}?token={key}", max_size=None) as ws:
            for tid in threads:
                assert (await api.post("/api/orchestration/start", json={"thread_id": tid})).status_code == 202
            while (await api.get(f"/api/analytics/session/{sid}")).json()["by_status"].keys() - {"completed"}:
                await asyncio.sleep(0.1)
            stored = (await api.get(f"/api/analytics/session/{sid}")).json()
            assert stored["by_status"] == {"completed": starts}
            try:  # every event, then heartbeats (1 s); or a close
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if message["type"] == "heartbeat":
                        break
                    seqs.append(message["seq"])
            except websockets.ConnectionClosed:
                pass
            code = ws.close_code
        async with websockets.connect(f"{server.ws_url}/ws/{sid}?token={key}", max_size=None) as ws:
            total = 0
            while (message := json.loads(await asyncio.wait_for(ws.recv(), 10)))["type"] != "heartbeat":
                total = message["seq"]
    return seqs, code, total


def test_a_stream_whose_queue_overflows_is_closed_not_left_sending_heartbeats(tmp_path: Path) -> None:
    """On Python 3.11 the stream's pump waited for its next event with `asyncio.wait_for`, which returns the event it
    got when the task is cancelled at that moment, as it was when its queue overflowed: the pump went on alone,
    sending heartbeats naming the last event it sent, while every later event was dropped, and the socket was never
    closed with 4008, so the client waited for ever for events it would never get."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    env = {
        "ORCHESTRATEX_WS_QUEUE_SIZE": "3",  # (bursts of a few runs' events overflow it, as a slow client's 1,000 do)
        "ORCHESTRATEX_SIM_LATENCY_SCALE": "0.01",
        "ORCHESTRATEX_HEARTBEAT_S": "1",
    }
    with ServerProcess(url, tmp_path, env=env) as server:
        for _ in range(8):
            seqs, code, total = asyncio.run(_follow(server, key, 4))
            assert seqs == list(range(1, len(seqs) + 1))
            assert code == 4008 or seqs[-1] == total, (seqs, code, total)
