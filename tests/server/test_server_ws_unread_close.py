"""A WebSocket client that stops reading is let go when its stream ends, as when it falls behind: its close is not
waited for without end."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
import uvicorn
import websockets
from websockets.exceptions import InvalidStatus

from orchestratex import FunctionProvider, ModelCatalog, ModelProfile, Orchestrator
from orchestratex.providers import GenerationRequest
from orchestratex.server import ServerSettings, create_app, issue_api_key
from orchestratex.server._protocol import uvicorn_options
from orchestratex.stores import MemoryStore

from ..helpers import NO_WAIT

pytestmark = pytest.mark.slow

_ANSWER = "word " * 600_000
"""3 MB: the last event of the session (`orchestration_completed` carries the answer) fills every buffer."""


async def _answer(request: GenerationRequest) -> str:
    return _ANSWER


async def test_an_ended_session_does_not_hold_the_stream_of_a_client_that_stopped_reading() -> None:
    """The stream of an ended session closes with 1000 once every event was sent; its close frame waited behind the
    megabytes a client that stopped reading left unsent, for ever: the handler never ended, the user's stream slot
    (`ws_max_per_user`) was never given back, and every stream the user opened after was refused with 429."""
    store = MemoryStore()
    model = ModelProfile(
        name="function:writer",
        input_cost_per_1k=0.001,
        output_cost_per_1k=0.001,
        context_window=2_000_000,
        max_output_tokens=1_000_000,
    )
    orchestrator = Orchestrator(
        providers=[FunctionProvider(_answer)],
        catalog=ModelCatalog([model]),
        retry=NO_WAIT,
        store=store,
        max_output_tokens=1_000_000,
    )
    settings = ServerSettings(heartbeat_s=0.2, ws_send_timeout_s=1.0, ws_max_per_user=1)
    app = create_app(store, orchestrator, settings=settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **uvicorn_options(settings))
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        key = await issue_api_key(store, "alice")
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as api:
            body = {"max_iterations": 1, "settings": {"judging": "when_needed"}}
            sid = (await api.post("/api/sessions/", json=body)).json()["_id"]
            thread = {"session_id": sid, "original_prompt": "Write at length"}
            tid = (await api.post("/api/threads/", json=thread)).json()["_id"]
            oid = (await api.post("/api/orchestration/start", json={"thread_id": tid})).json()["_id"]
            while (await api.get(f"/api/orchestration/status/{oid}")).json()["status"] in ("pending", "running"):
                await asyncio.sleep(0.05)
            assert (await api.patch(f"/api/sessions/{sid}/status", json={"status": "completed"})).status_code == 200
        reader = socket.socket()
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.setblocking(False)
        with reader:  # a client that connects, then reads nothing
            await asyncio.get_running_loop().sock_connect(reader, ("127.0.0.1", port))
            handshake = (
                f"GET /ws/{sid}?token={key} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            await asyncio.get_running_loop().sock_sendall(reader, handshake.encode())
            refused = 0
            url = f"ws://127.0.0.1:{port}/ws/{sid}?token={key}"
            async with asyncio.timeout(30):
                while True:  # the user's one stream is given back once the server lets that client go
                    await asyncio.sleep(0.5)
                    try:
                        async with websockets.connect(url, max_size=None) as ws:
                            async for _ in ws:
                                pass
                            assert ws.close_code == 1000
                            break
                    except InvalidStatus as refusal:
                        assert refusal.response.status_code == 429
                        refused += 1
        assert refused > 0  # (the first was refused: that client's stream was still open then)
    finally:
        server.should_exit = True
        await serving
