"""A WebSocket's replay reads a session's history from the store a few events at a time when they are large."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi.testclient import TestClient

from orchestratex import EVENT_ADAPTER, Event, FunctionProvider, ModelCatalog, ModelProfile, Orchestrator
from orchestratex.providers import GenerationRequest
from orchestratex.server import ServerSettings, create_app, issue_api_key
from orchestratex.stores import SQLiteStore

from ..helpers import NO_WAIT

_PROMPT = "Summarise this report: " + "figures and findings " * 20_000
"""400 kB: each run's `orchestration_started` event carries it."""


class _CountingStore(SQLiteStore):
    """Remembers the most bytes of events one `list_events` call returned."""

    largest_read = 0

    async def list_events(
        self, session_id: str, *, since: int = 0, limit: int = 1000, orchestration_id: str | None = None
    ) -> list[Event]:
        events = await super().list_events(session_id, since=since, limit=limit, orchestration_id=orchestration_id)
        self.largest_read = max(self.largest_read, sum(len(EVENT_ADAPTER.dump_json(e)) for e in events))
        return events


async def _answer(request: GenerationRequest) -> str:
    return "A short summary."


def test_a_replay_of_large_events_never_reads_the_whole_history_at_once(tmp_path: Path) -> None:
    """The replay read 500 events at a time whatever their size: a session of runs with 5 MB prompts had its whole
    history (hundreds of megabytes) read into memory for every client connecting with `since=0`, 20 clients per user."""
    path = tmp_path / "server.db"
    model = ModelProfile(name="function:a", input_cost_per_1k=0.001, output_cost_per_1k=0.001, context_window=10**6)

    async def history() -> tuple[str, str]:
        async with SQLiteStore(path) as store:
            orchestrator = Orchestrator(
                providers=[FunctionProvider(_answer)], catalog=ModelCatalog([model]), retry=NO_WAIT, store=store
            )
            session = await orchestrator.create_session("alice", max_iterations=1, judging="when_needed")
            for _ in range(24):  # 24 runs of a 400 kB prompt: 10 MB of events
                await orchestrator.run(_PROMPT, session=session)
            return session.id, await issue_api_key(store, "alice")

    sid, key = asyncio.run(history())
    store = _CountingStore(path)
    with TestClient(create_app(store, settings=ServerSettings(heartbeat_s=0.2))) as client:
        with client.websocket_connect(f"/ws/{sid}?token={key}") as ws:
            seen = [ws.receive_json()["seq"] for _ in range(24 * 4)]
    assert seen == list(range(1, 24 * 4 + 1))
    assert store.largest_read < 4_000_000, store.largest_read  # (the history is 10 MB)
