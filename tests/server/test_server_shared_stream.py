"""WebSocket streams of a session whose runs another server process (sharing the store) drives: every subscriber of
the watching process gets every event, whenever the others connect."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from .server_process import ServerProcess, create_key

POLL_S = 4.0
"""How often the watching server reads other processes' events: the runs below end well within one poll."""


async def _events_until_completed(ws: Any, timeout: float) -> list[int]:
    seqs: list[int] = []
    async with asyncio.timeout(timeout):
        while True:
            event = json.loads(await ws.recv())
            if event["type"] == "heartbeat":
                continue
            seqs.append(event["seq"])
            if event["type"] == "orchestration_completed":
                return seqs


@pytest.mark.slow
def test_a_second_subscriber_does_not_take_the_first_ones_events_of_another_process(tmp_path: Path) -> None:
    """A client following a session on one server, whose run another server drove, never got the run's events when a
    second client connected to the same session on the first server before it had polled them: the second client's
    replay moved the shared poller past them."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    key = create_key(url, "alice")
    headers = {"Authorization": f"Bearer {key}"}
    watcher_env = {"ORCHESTRATEX_POLL_INTERVAL_S": str(POLL_S)}
    fast = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "0.01"}
    with (
        ServerProcess(url, tmp_path, env=watcher_env, name="watcher") as a,
        ServerProcess(url, tmp_path, env=fast) as b,
    ):

        async def main() -> None:
            async with (
                httpx.AsyncClient(base_url=a.base_url, headers=headers) as on_a,
                httpx.AsyncClient(base_url=b.base_url, headers=headers) as on_b,
            ):
                sid = (await on_a.post("/api/sessions/", json={"max_iterations": 1})).json()["_id"]
                thread = {"session_id": sid, "original_prompt": "Explain recursion"}
                tid = (await on_a.post("/api/threads/", json=thread)).json()["_id"]
                stream = f"{a.ws_url}/ws/{sid}?token={key}"
                async with websockets.connect(stream, max_size=None) as first:
                    started = time.monotonic()
                    r = await on_b.post("/api/orchestration/start", json={"thread_id": tid})
                    assert r.status_code == 202, r.text
                    oid = r.json()["_id"]
                    while (await on_b.get(f"/api/orchestration/status/{oid}")).json()["status"] == "pending":
                        await asyncio.sleep(0.05)
                    while (await on_b.get(f"/api/orchestration/status/{oid}")).json()["status"] == "running":
                        await asyncio.sleep(0.05)
                    async with websockets.connect(stream, max_size=None) as second:  # replays the stored events
                        assert await _events_until_completed(second, 10) == [1, 2, 3, 4, 5]
                    if time.monotonic() - started > POLL_S:
                        pytest.skip("the machine is too slow: the watcher polled before the second client connected")
                    assert await _events_until_completed(first, 3 * POLL_S) == [1, 2, 3, 4, 5]

        asyncio.run(main())
    assert "Traceback" not in a.log() and "Traceback" not in b.log()
