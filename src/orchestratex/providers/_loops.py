"""One SDK client per event loop, for the adapters that build their own.

An async SDK client (`openai.AsyncOpenAI`, `anthropic.AsyncAnthropic`, `google.genai.Client`)
pools connections bound to the event loop that opened them: used from another loop (a second
`asyncio.run`, pytest-asyncio's loop per test) it fails with `RuntimeError: Event loop is closed`.
`LoopClients` gives each running loop its own client, built on first use there, and closes it as
that loop shuts down: `asyncio.run`, `asyncio.Runner` and pytest-asyncio finalise the loop's
open async generators before closing it, and a small one per loop holds the client's close.
A loop closed without that step (`loop.close()` alone) leaves its client to be dropped, unclosed,
the next time any loop asks for one.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["LoopClients"]

C = TypeVar("C")


class _Bound(Generic[C]):
    """A loop's client and the async generator that closes it."""

    def __init__(self, client: C, closer: AsyncGenerator[None, None]) -> None:
        self.client = client
        self.closer = closer


class LoopClients(Generic[C]):
    """The client of the running event loop: `build()` makes one per loop, `close(client)` ends it.

    `first` (built up front, e.g. to read its settings) serves the first loop that asks. With
    `build=None` the provider was handed its client (`client=`, `http_client=`): `first` is then
    used on every loop and never closed, its lifecycle being its owner's.
    """

    def __init__(
        self,
        first: C,
        build: Callable[[], C] | None = None,
        close: Callable[[C], Awaitable[object]] | None = None,
    ) -> None:
        if (build is None) != (close is None):
            raise TypeError("LoopClients: pass both build and close, or neither")
        self._given: C | None = None if build else first
        self._unused: C | None = first if build else None  # until the first loop takes it
        self._build = build
        self._close = close
        self._lock = threading.Lock()  # one provider may serve loops in several threads
        self._bound: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Bound[C]] = weakref.WeakKeyDictionary()
        self.closes = 0
        """How many clients `aclose()` has closed: a call that saw it change was cut off by its own provider's
        `aclose()` (its connection closed under it), not by the server."""

    @classmethod
    def unless_injected(
        cls, first: C, build: Callable[[], C], close: Callable[[C], Awaitable[object]], *, injected: bool
    ) -> LoopClients[C]:
        """An adapter's clients: `first` on every loop when the caller injected its HTTP client (its lifecycle is
        the caller's), else one per loop, built with `build` and ended with `close`."""
        return cls(first) if injected else cls(first, build, close=close)

    @property
    def owned(self) -> bool:
        """Whether the clients are built (and closed) here, one per loop."""
        return self._given is None

    def current(self) -> C:
        """The running loop's client, built on its first use there (call from inside the loop)."""
        if self._given is not None:
            return self._given
        assert self._build is not None
        loop = asyncio.get_running_loop()
        with self._lock:
            for dead in [other for other in self._bound if other.is_closed()]:
                del self._bound[dead]  # its close can no longer run: dropped
            bound = self._bound.get(loop)
            if bound is None:
                client = self._unused if self._unused is not None else self._build()
                self._unused = None
                bound = self._bound[loop] = _Bound(client, self._closing(client))
                _start(bound.closer)  # registered with the loop, which finalises it as it shuts down
            return bound.client

    async def aclose(self) -> None:
        """Close the running loop's client, if it has one; the next call on this loop builds a new one."""
        if self._given is not None:
            return
        with self._lock:
            bound = self._bound.pop(asyncio.get_running_loop(), None)
        if bound is not None:
            self.closes += 1
            await bound.closer.aclose()

    async def _closing(self, client: C) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:  # `aclose()`, or the loop shutting down
            with self._lock:
                for loop in [loop for loop, bound in self._bound.items() if bound.client is client]:
                    del self._bound[loop]
            assert self._close is not None
            await self._close(client)


def _start(closer: AsyncGenerator[None, None]) -> None:
    """Run `closer` to its `yield`: the first step hands it to the running loop's async-generator hooks."""
    try:
        closer.asend(None).send(None)
    except StopIteration:
        return
    raise RuntimeError("LoopClients: the closing generator did not stop at its yield")  # pragma: no cover
