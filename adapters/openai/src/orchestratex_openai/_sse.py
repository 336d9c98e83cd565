"""The SDK client with an SSE decoder that also reads llama.cpp's `error:` lines.

Builds of llama.cpp's `llama-server` before its stream errors went out as `data: {"error": {...}}` end a failed
stream with an `error: {...}` line: a field the SSE format ignores, so the SDK read an empty stream and the server's
message (a prompt too long for its context, say) was lost. Such a line is read as the `data: {"error": ...}` event it
stands for, which the SDK raises as an `APIError`, classified as any error sent mid-stream is.
"""

from __future__ import annotations

import json

import openai
from openai._streaming import ServerSentEvent, SSEBytesDecoder, SSEDecoder

__all__ = ["AsyncOpenAIClient", "ErrorLineDecoder"]


class ErrorLineDecoder(SSEDecoder):
    """The SDK's SSE decoder, reading an `error: {...}` line as `data: {"error": {...}}`."""

    def decode(self, line: str) -> ServerSentEvent | None:
        field, _, value = line.partition(":")
        if field == "error":
            value = value.removeprefix(" ")
            try:
                error = json.loads(value)
            except ValueError:
                error = None
            if not isinstance(error, dict):
                error = {"message": value}
            line = "data: " + json.dumps({"error": error})
        return super().decode(line)


class AsyncOpenAIClient(openai.AsyncOpenAI):
    """`openai.AsyncOpenAI`, decoding streams with `ErrorLineDecoder`."""

    def _make_sse_decoder(self) -> SSEDecoder | SSEBytesDecoder:
        return ErrorLineDecoder()
