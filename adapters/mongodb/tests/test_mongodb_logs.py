"""The MongoDB store's log lines reach the handler the operate page tells operators to put on `orchestratex`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from orchestratex.records import Session
from orchestratex.telemetry import JsonFormatter
from orchestratex_mongodb import MongoStore


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def test_a_warning_of_the_store_reaches_the_orchestratex_handler(mock_client: Any) -> None:
    """Its logger was `orchestratex_mongodb`, outside the `orchestratex` tree: an application configured as the
    operate page says (a handler on `orchestratex`) never saw the store's warnings (here: the deployment has no change
    streams, so watching a session polls), which Python's last resort wrote as bare text, or nowhere at INFO."""
    lines = _Lines()
    tree = logging.getLogger("orchestratex")
    previous = tree.level
    tree.addHandler(lines)
    tree.setLevel(logging.INFO)
    try:
        async with MongoStore(client=mock_client, retry_backoff_s=0, change_streams=True) as store:
            session = await store.create_session(Session(user_id="alice"))
            async with contextlib.aclosing(store.watch_events(session.id, poll_interval_s=0.01)) as events:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.05):
                        async for _ in events:
                            break
    finally:
        tree.removeHandler(lines)
        tree.setLevel(previous)
    (line,) = [line for line in lines.lines if "no change streams" in line]
    assert '"logger": "orchestratex.stores.mongodb"' in line and '"level": "WARNING"' in line
