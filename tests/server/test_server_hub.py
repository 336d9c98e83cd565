"""`EventHub`: the fan-out of a session's events to its WebSocket subscribers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from orchestratex.events import Event, OrchestrationStarted
from orchestratex.exceptions import StoreUnavailable
from orchestratex.server._hub import EventHub
from orchestratex.stores import MemoryStore


class _Unreachable(MemoryStore):
    """A store whose event reads fail while `down`."""

    down = False
    reads = 0

    async def list_events(self, *args: Any, **kwargs: Any) -> list[Event]:
        self.reads += 1
        if self.down:
            raise StoreUnavailable("cannot reach the database")
        return []


async def test_a_store_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The poller of every watched session logged a warning every `poll_interval_s` while the store was down."""
    store = _Unreachable()
    hub = EventHub(store, poll_interval_s=0.01)
    for n in range(3):
        hub.subscribe(f"session-{n}", 10)
        hub.advance(f"session-{n}", 0)
    try:
        with caplog.at_level(logging.WARNING, logger="orchestratex.server"):
            store.down = True
            await asyncio.sleep(0.3)
            failed_reads = store.reads
            store.down = False
            await asyncio.sleep(0.1)
    finally:
        await hub.aclose()
    assert failed_reads > 10  # (every poller tried again and again)
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("polling events failed (session session-")
    assert "cannot reach the database" in lines[0]
    assert lines[1].startswith("polling events works again after 0.")
    assert "failed reads)" in lines[1]


class _OtherProcess(MemoryStore):
    """A store holding events that another process stored (`stored`)."""

    def __init__(self) -> None:
        super().__init__()
        self.stored: list[Event] = []

    async def list_events(self, session_id: str, *, since: int = 0, limit: int = 100, **kwargs: Any) -> list[Event]:
        return [e for e in self.stored if e.session_id == session_id and e.seq > since][:limit]


async def test_the_poller_goes_on_from_where_it_is_when_a_later_subscriber_replayed_further() -> None:
    """A second subscriber that replayed events of another process before the poller read them moved the poller past
    them: the first subscriber never got them."""
    store = _OtherProcess()
    hub = EventHub(store, poll_interval_s=0.05)
    first = hub.subscribe("s", 100)
    hub.advance("s", 0)  # (it replayed an empty stream)
    store.stored = [
        OrchestrationStarted(
            orchestration_id="o",
            thread_id="t",
            session_id="s",
            seq=n,
            prompt="p",
            domain="general",
            max_iterations=1,
            evaluation_threshold=8.0,
        )
        for n in (1, 2, 3)
    ]
    second = hub.subscribe("s", 100)
    hub.advance("s", 3)  # (it replayed the three from the store)
    try:
        async with asyncio.timeout(5):
            got = [(await first.queue.get())[0] for _ in range(3)]
    finally:
        hub.unsubscribe(first)
        hub.unsubscribe(second)
        await hub.aclose()
    assert got == [1, 2, 3]
