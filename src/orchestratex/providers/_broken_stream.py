"""A stream that broke after the server answered: what the error says, for every adapter.

A connection reset or a read timeout while a stream is read comes from the vendor's SDK as the same connection error
as a server that cannot be reached ("cannot reach openai at …: "), though the server was reached, answered, and part
of the answer may have been handed on already. `StreamProgress` counts what a stream handed on; `broken_stream` is
the error that says what happened: retried as a connection error is (a new attempt starts the answer again).
"""

from __future__ import annotations

from ..exceptions import ProviderConnectionError, ProviderError, ProviderTimeout
from ._base import TextSink

__all__ = ["StreamProgress", "broken_stream"]


class StreamProgress:
    """A `TextSink` passing each piece on to `on_text`, counting the characters handed on."""

    def __init__(self, on_text: TextSink) -> None:
        self._on_text = on_text
        self.chars = 0
        """The characters of the answer handed on so far."""

    async def __call__(self, text: str) -> None:
        self.chars += len(text)
        await self._on_text(text)


def broken_stream(
    reason: BaseException,
    *,
    provider: str,
    model: str | None = None,
    at: str = "",
    received: int,
    timed_out: bool = False,
) -> ProviderError:
    """The error of a stream `provider` (` at <base URL>` in `at`) stopped sending after it answered, `received`
    characters of the answer handed on: the connection's `reason` (a reset, a connection closed before the stream's
    end), or no piece in the read timeout (`timed_out`)."""
    what = f"after {received} characters of the answer" if received else "before any of the answer's text"
    if timed_out:
        return ProviderTimeout(
            f"{provider}{at} stopped sending its answer mid-stream ({what}): no more came in time",
            model=model,
            provider=provider,
        )
    said = str(reason) or f"the connection was closed or reset ({type(reason).__name__})"
    return ProviderConnectionError(
        f"the connection to {provider}{at} broke mid-stream, {what}: {said}", model=model, provider=provider
    )
