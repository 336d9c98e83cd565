"""In-process fan-out of orchestration events to WebSocket subscribers.

Events reach a session's channel from the orchestrator's event handler (this process's runs) and
from a poller that reads the store by `seq` while the session is watched (runs of other server
processes sharing the store). Each event is serialised once; each subscriber has a bounded queue
that `publish` never waits on: a subscriber that falls behind is flagged `overflowed` and its
socket is closed (code 4008), so a slow client never slows an orchestration.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time

from ..events import EVENT_ADAPTER, Event
from ..stores import Store

__all__ = ["EventHub", "Subscriber", "encode"]

logger = logging.getLogger("orchestratex.server")


def encode(event: Event) -> str:
    """The WebSocket JSON of `event`."""
    return EVENT_ADAPTER.dump_json(event).decode()


class Subscriber:
    """One WebSocket's view of a session: a bounded queue of `(seq, json)` and an overflow flag."""

    def __init__(self, session_id: str, maxsize: int) -> None:
        self.session_id = session_id
        self.queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue(maxsize)
        self.overflowed = asyncio.Event()

    def offer(self, seq: int, text: str) -> None:
        if self.overflowed.is_set():
            return
        try:
            self.queue.put_nowait((seq, text))
        except asyncio.QueueFull:
            self.overflowed.set()


class _Channel:
    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self.high: int | None = None
        """The highest `seq` seen for the session (None until a subscriber has replayed the store)."""
        self.poller: asyncio.Task[None] | None = None


class _Outage:
    """The store as the pollers see it: one line when their reads start failing and one when they work again,
    not one per poll and session (every `poll_interval_s`, for each watched session)."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.failures = 0

    def failed(self, session_id: str, exc: Exception) -> None:
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            logger.warning(
                "polling events failed (session %s): %s; the WebSocket streams go on once the store answers again",
                session_id,
                exc,
                extra={"session_id": session_id},
            )

    def recovered(self) -> None:
        if self.since is not None:
            logger.warning(
                "polling events works again after %.1f s (%d failed reads)",
                time.monotonic() - self.since,
                self.failures,
            )
            self.since, self.failures = None, 0


class EventHub:
    """Channels per watched session; `publish` is the orchestrator's event handler."""

    def __init__(self, store: Store, poll_interval_s: float) -> None:
        self.store = store
        self.poll_interval_s = poll_interval_s
        self._channels: dict[str, _Channel] = {}
        self._outage = _Outage()

    def publish(self, event: Event) -> None:
        channel = self._channels.get(event.session_id)
        if channel is not None:
            self._fan_out(channel, event.seq, encode(event))

    def _fan_out(self, channel: _Channel, seq: int, text: str) -> None:
        if channel.high is None or seq > channel.high:
            channel.high = seq
        for subscriber in channel.subscribers:
            subscriber.offer(seq, text)

    def subscribe(self, session_id: str, maxsize: int) -> Subscriber:
        channel = self._channels.get(session_id)
        if channel is None:
            channel = self._channels[session_id] = _Channel()
            # (in a context of its own: it serves every stream of the session, not the request that happened to start
            # it, whose span a traced store's reads were otherwise all made under, as long as the session is watched)
            channel.poller = asyncio.create_task(
                self._poll(session_id, channel), name=f"orchestratex-poll-{session_id}", context=contextvars.Context()
            )
        subscriber = Subscriber(session_id, maxsize)
        channel.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        channel = self._channels.get(subscriber.session_id)
        if channel is None:
            return
        channel.subscribers.discard(subscriber)
        if not channel.subscribers:
            del self._channels[subscriber.session_id]
            if channel.poller is not None:
                channel.poller.cancel()

    def advance(self, session_id: str, seq: int) -> None:
        """A subscriber has replayed the store up to `seq`: the poller may start from there, if it has not started.

        A poller that has started goes on from where it is, even if this subscriber read further: the events in
        between (another process's, not polled yet) are still owed to the channel's other subscribers."""
        channel = self._channels.get(session_id)
        if channel is not None and channel.high is None:
            channel.high = seq

    @property
    def watched(self) -> int:
        """Sessions with at least one subscriber."""
        return len(self._channels)

    async def _poll(self, session_id: str, channel: _Channel) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            if channel.high is None:
                continue
            try:
                events = await self.store.list_events(session_id, since=channel.high, limit=500)
            except Exception as exc:  # a store hiccup must not end the stream
                self._outage.failed(session_id, exc)
                continue
            self._outage.recovered()
            for event in events:
                if channel.high is None or event.seq > channel.high:
                    self._fan_out(channel, event.seq, encode(event))

    async def aclose(self) -> None:
        pollers = [c.poller for c in self._channels.values() if c.poller is not None]
        self._channels.clear()
        for poller in pollers:
            poller.cancel()
        for poller in pollers:
            with contextlib.suppress(asyncio.CancelledError):
                await poller
