"""Events: read by seq below the lowest seq a commit still holds, and watched through a change stream or by polling."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from functools import partial
from typing import Any

from pymongo.errors import OperationFailure, PyMongoError

from orchestratex.events import Event
from orchestratex.exceptions import StoreError, StoreUnavailable, UserError

from ._base import MongoBase
from ._codec import check_page, events_from

__all__ = ["Events"]

logger = logging.getLogger("orchestratex.stores.mongodb")

_Doc = dict[str, Any]


class Events(MongoBase):
    """The `Store` methods of events."""

    async def list_events(
        self, session_id: str, *, since: int = 0, limit: int = 1000, orchestration_id: str | None = None
    ) -> list[Event]:
        check_page(limit, since, offset_name="since")
        c = self._c
        horizon = await self._committer.horizon(session_id, self.recover_after_s)
        if limit == 0 or horizon <= since:
            return []
        events: list[Event] = []
        while True:  # (again past events this version cannot read: `limit` counts those it lists)
            query: _Doc = {"session_id": session_id, "seq": {"$gt": since, "$lte": horizon}}
            if orchestration_id is not None:
                query["orchestration_id"] = orchestration_id
            wanted = limit - len(events)

            async def read(query: _Doc = query, wanted: int = wanted) -> list[_Doc]:
                return await c.events.find(query).sort("seq", 1).limit(wanted).to_list(wanted)

            docs = await self._run("reading events", read)
            events += events_from(docs)
            if len(docs) < wanted or len(events) >= limit:
                return events
            since = docs[-1]["seq"]

    async def watch_events(
        self, session_id: str, since: int = 0, *, poll_interval_s: float = 0.25, batch: int = 1000
    ) -> AsyncGenerator[Event, None]:
        """Every event of the session with `seq > since`, in order, then each new one as it is committed
        (by any process), forever: close the iterator to stop (`contextlib.aclosing`).

        A change stream on `events` wakes it when the deployment supports change streams (replica set,
        sharded cluster); otherwise it polls by `seq` every `poll_interval_s`. Either way it reads through
        `list_events`, so it never skips a seq and never yields one twice. Raises `NotFound` for an
        unknown session.
        """
        if not poll_interval_s > 0 or batch < 1:
            raise UserError(f"poll_interval_s must be > 0 and batch >= 1 (got {poll_interval_s!r}, {batch!r})")
        check_page(batch, since, offset_name="since")  # (before a change stream is opened, as `list_events` would)
        stream = await self._open_change_stream(session_id, poll_interval_s) if self.change_streams else None
        last = since
        try:
            while True:
                found = await self.list_events(session_id, since=last, limit=batch)
                for event in found:
                    last = event.seq
                    yield event
                if len(found) == batch:
                    continue
                if stream is None:
                    await asyncio.sleep(poll_interval_s)
                    continue
                try:
                    await self._run("waiting for events", stream.try_next)
                except StoreError as exc:  # the stream could not resume: poll from here on
                    logger.warning("change stream on session %s ended (%s); polling instead", session_id, exc)
                    with contextlib.suppress(PyMongoError):
                        await stream.close()
                    stream = None
        finally:
            if stream is not None:
                await stream.close()

    async def _open_change_stream(self, session_id: str, poll_interval_s: float) -> Any:
        pipeline = [{"$match": {"operationType": "insert", "fullDocument.session_id": session_id}}]
        watch = partial(self._c.events.watch, pipeline, max_await_time_ms=max(1, int(poll_interval_s * 1000)))
        try:  # a network error is retried, then StoreUnavailable (as any read)
            return await self._run("opening a change stream", watch)
        except StoreError as exc:
            if not isinstance(exc.__cause__, OperationFailure) or isinstance(exc, StoreUnavailable):
                raise
            # refused (a standalone server, a user without the changeStream privilege): poll instead
            logger.warning("no change streams on %s (%s); polling instead", self.redacted_url, exc.__cause__)
            self.change_streams = False
            return None
