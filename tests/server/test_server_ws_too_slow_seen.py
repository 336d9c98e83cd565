"""A WebSocket stream closed with 4008 (its client too slow) is seen by the operator: the client alone saw the code,
while the server's log said nothing and no metric moved, so clients dropped again and again behind a slow proxy went
unnoticed, and nothing named the setting to raise. Each such close is now one warning on `orchestratex.server`, naming
the session and why, and counts in `orchestratex_limits_hit_total{limit="slow_stream"}` (`orchestratex serve`, a real
process and a real WebSocket client)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import websockets

from .server_process import ServerProcess, create_key


async def _dropped(server: ServerProcess, key: str) -> tuple[str, int | None, str]:
    """Start a run while following its session: (session id, the stream's close code, the slow_stream sample)."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as api:
        metrics = (await api.get("/metrics")).text
        assert 'orchestratex_limits_hit_total{limit="slow_stream"} 0.0' in metrics, metrics
        sid = (await api.post("/api/sessions/", json={})).json()["_id"]
        thread = {"session_id": sid, "original_prompt": "Explain photosynthesis"}
        tid = (await api.post("/api/threads/", json=thread)).json()["_id"]
        async with websockets.connect(f"{server.ws_url}/ws/{sid}?token={key}") as ws:
            assert (await api.post("/api/orchestration/start", json={"thread_id": tid})).status_code == 202
            try:  # (a run's first commit sends several events at once: a queue of one overflows)
                while True:
                    await asyncio.wait_for(ws.recv(), 30)
            except websockets.ConnectionClosed:
                pass
        metrics = (await api.get("/metrics")).text
    sample = next(line for line in metrics.splitlines() if line.startswith('orchestratex_limits_hit_total{limit="slow'))
    return sid, ws.close_code, sample


def test_a_stream_closed_for_being_too_slow_is_logged_and_counted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice", admin=True)
    env = {"ORCHESTRATEX_WS_QUEUE_SIZE": "1", "ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}
    with ServerProcess(url, tmp_path, env=env) as server:
        sid, code, sample = asyncio.run(_dropped(server, key))
        log = server.log()
    assert code == 4008
    assert sample == 'orchestratex_limits_hit_total{limit="slow_stream"} 1.0'
    said = [line for line in log.splitlines() if "closed with 4008" in line]
    assert len(said) == 1, log
    assert said[0].endswith(
        f"orchestratex.server WARNING the event stream of session {sid} closed with 4008, too slow: its client fell"
        " behind by more than ORCHESTRATEX_WS_QUEUE_SIZE=1 events"
    ), said
