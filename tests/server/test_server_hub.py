"""`EventHub`: the fan-out of a session's events to its WebSocket subscribers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from orchestratex.events import Event
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
