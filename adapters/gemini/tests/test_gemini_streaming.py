"""Streaming through google-genai (`generate_content_stream`), with documented server-sent events."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import MalformedResponse
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex.usage import Usage
from orchestratex_gemini import GeminiProvider

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


CUT = sse(
    chunk("Hello"), chunk(", wor", usage={"promptTokenCount": 9, "candidatesTokenCount": 3, "totalTokenCount": 12})
)
"""A stream that ends before its last chunk: every chunk carries the usage so far, none a finish reason."""


async def test_a_stream_cut_before_its_finish_reason_is_not_an_answer() -> None:
    server = MockServer(Reply(200, content=CUT, headers={"content-type": "text/event-stream"}))

    async def on_text(text: str) -> None:
        pass

    with pytest.raises(MalformedResponse, match="without a finish reason"):
        await provider_on(server).generate_stream(request(), on_text)


async def test_an_answer_without_a_finish_reason_is_not_an_answer_streamed_or_not() -> None:
    """Gemini's reference: "If empty, the model has not stopped generating tokens." A stream ending so failed, but the
    same answer not streamed was kept as whole, with the finish reason None."""
    answer = chunk("Hello, wor", usage={"promptTokenCount": 9, "candidatesTokenCount": 3, "totalTokenCount": 12})
    server = MockServer(Reply(200, json=answer))
    with pytest.raises(MalformedResponse, match="no finish reason: the model had not stopped"):
        await provider_on(server).generate(request())


async def test_run_stream_does_not_keep_a_cut_gemini_answer() -> None:
    replies = {"gemini-4-hydrogen": CUT, "gemini-4-neon": STREAM}

    def handler(http_request: httpx2.Request) -> httpx2.Response:
        model = next(name for name in replies if f"/{name}:" in str(http_request.url))
        return httpx2.Response(200, content=replies[model], headers={"content-type": "text/event-stream"})

    gemini = GeminiProvider(
        api_key="AIza-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    )
    judge = FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "good"}))
    neon = ModelCatalog.default().get("gemini:gemini-4-neon")
    judge_model = ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.001)
    orch = Orchestrator(
        providers=[gemini, judge],
        catalog=ModelCatalog([MODEL.model_copy(update={"quality": 9.9}), neon, judge_model]),
        router=BayesianRouter(explore=False),
        judges=["function:judge"],
    )
    async with orch.run_stream("Hi", preferred_models=[MODEL.name, neon.name], max_iterations=1) as stream:
        async for _ in stream:
            pass
    result = stream.result
    assert result.status == "completed" and result.final_response == "Hello, world!"
    assert any("MalformedResponse" in e for e in result.orchestration.iterations[0].errors)


async def test_a_stream_names_the_model_version_that_answered() -> None:
    server = MockServer(Reply(200, content=STREAM, headers={"content-type": "text/event-stream"}))

    async def on_text(text: str) -> None:
        return None

    assert (await provider_on(server).generate_stream(request(), on_text)).response_model == "gemini-4-hydrogen"


async def test_a_json_request_streamed_still_hands_on_the_text() -> None:
    """The JSON object is unwrapped from the whole text, so such a call is not streamed: the answer was returned,
    but no piece of it went to `on_text` (`generate_stream` promises the pieces joined are the returned text)."""
    from .test_gemini_provider import body

    server = MockServer(Reply(200, json=body(parts=[{"text": '```json\n{"score": 8}\n```'}])))
    pieces: list[str] = []

    async def collect(text: str) -> None:
        pieces.append(text)

    generation = await provider_on(server).generate_stream(request(json_output=True), collect)
    assert generation.text == '{"score": 8}' and pieces == ['{"score": 8}']
    assert len(server.requests) == 1
