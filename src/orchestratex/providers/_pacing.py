"""A stream's chunks, each awaited at most the call's time limit: a server keeping the connection alive with SSE
comments (DeepSeek's `: keep-alive`, OpenRouter's `: OPENROUTER PROCESSING`) never lets the HTTP read timeout run
out, though no chunk comes."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["NoChunkInTime", "Paced"]


class NoChunkInTime(TimeoutError):
    """A stream's next chunk did not come in time (`Paced`): not a `TimeoutError` of whoever takes its text."""


class Paced:
    """The chunks of an SDK stream, each awaited at most `limit` seconds (`NoChunkInTime` then)."""

    def __init__(self, stream: Any, limit: float) -> None:
        self._chunks = stream.__aiter__()
        self._limit = limit

    def __aiter__(self) -> Paced:
        return self

    async def __anext__(self) -> Any:
        waiting = asyncio.timeout(self._limit)
        try:
            async with waiting:
                return await self._chunks.__anext__()
        except TimeoutError:
            if waiting.expired():
                raise NoChunkInTime from None
            raise
