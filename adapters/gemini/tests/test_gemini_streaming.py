"""Streaming through google-genai (`generate_content_stream`), with documented server-sent events."""

from __future__ import annotations

import json
from typing import Any

from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex.usage import Usage

from .test_gemini_provider import MODEL, provider_on, request


def sse(*chunks: dict[str, Any]) -> bytes:
    return b"".join(f"data: {json.dumps(c)}\r\n\r\n".encode() for c in chunks)


def chunk(text: str, finish: str | None = None, usage: dict[str, int] | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": usage or {"promptTokenCount": 9, "totalTokenCount": 9},
        "modelVersion": "gemini-4-hydrogen",
    }


STREAM = sse(
    chunk("Hello"),
    chunk(", world"),
    chunk(
        "!", "STOP", {"promptTokenCount": 9, "candidatesTokenCount": 4, "thoughtsTokenCount": 6, "totalTokenCount": 19}
    ),
)


async def test_generate_stream_hands_on_each_piece_and_takes_usage_from_the_last_chunk() -> None:
    server = MockServer(Reply(200, content=STREAM, headers={"content-type": "text/event-stream"}))
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    generation = await provider_on(server).generate_stream(request(), on_text)
    assert ":streamGenerateContent" in server.requests[0].url
    assert pieces == ["Hello", ", world", "!"]
    assert generation.text == "Hello, world!" and generation.finish_reason == "stop"
    assert generation.usage == Usage(input_tokens=9, output_tokens=10, reasoning_tokens=6)
    assert generation.cost == MODEL.cost(generation.usage)


async def test_a_streamed_malformed_function_call_finish_is_passed_through_lower_case() -> None:
    stream = sse(chunk("Hi", "MALFORMED_FUNCTION_CALL", {"promptTokenCount": 3, "candidatesTokenCount": 1}))
    server = MockServer(Reply(200, content=stream, headers={"content-type": "text/event-stream"}))

    async def on_text(text: str) -> None:
        pass

    generation = await provider_on(server).generate_stream(request(), on_text)
    assert generation.finish_reason == "malformed_function_call"
