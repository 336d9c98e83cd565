"""Gateways that never state a finish reason (`finish_reason: null` to the end, then the usage and `[DONE]`): their
whole answers were failed as `MalformedResponse` ("ended without a finish reason"), paid for, and retried alike."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex import AnswerDelta, BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import MalformedResponse
from orchestratex.orchestrator import RetryPolicy
from orchestratex.providers import GenerationRequest, Message
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

from .test_openai_contract import chat_completion

MODEL = ModelProfile(name="openai:gpt-4.1", input_cost_per_1k=0.002, output_cost_per_1k=0.008, quality=9)
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=5)
USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def _chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
    body: dict[str, Any] = {"id": "gen-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1"}
    body["choices"] = choices
    if usage is not None:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n".encode()


def _stream(*pieces: str, usage: dict[str, int] | None = USAGE, done: bool = True) -> bytes:
    """The gateway's stream: content chunks, each `finish_reason: null`, then a usage chunk with no choice."""
    chunks = [_chunk([{"index": 0, "delta": {"content": p}, "finish_reason": None}]) for p in pieces]
    if usage is not None:
        chunks.append(_chunk([], usage))
    return b"".join(chunks) + (b"data: [DONE]\n\n" if done else b"")


def _provider(*bodies: bytes) -> OpenAIProvider:
    replies = list(bodies)

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=replies.pop(0), headers={"content-type": "text/event-stream"})

    return OpenAIProvider(api_key="sk-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)))


def _request(max_output_tokens: int = 100) -> GenerationRequest:
    return GenerationRequest(
        model=MODEL, messages=[Message(role="user", content="Say hello")], max_output_tokens=max_output_tokens
    )


async def test_a_streamed_run_through_a_gateway_that_states_no_finish_reason_completes() -> None:
    orch = Orchestrator(
        providers=[_provider(_stream("Hello", " there")), FunctionProvider(lambda r: '{"score": 9, "feedback": "ok"}')],
        catalog=ModelCatalog([MODEL, JUDGE]),
        router=BayesianRouter(explore=False),
        judges=[JUDGE.name],
        retry=RetryPolicy(max_attempts=1),
    )
    texts = []
    async with orch.run_stream("Say hello", preferred_models=[MODEL.name], max_iterations=1) as stream:
        async for item in stream:
            if isinstance(item, AnswerDelta):
                texts.append(item.text)
    assert stream.result.status == "completed", stream.result.orchestration.iterations
    assert texts == ["Hello", " there"] and stream.result.final_response == "Hello there"
    assert stream.result.orchestration.iterations[0].usage == Usage(input_tokens=10, output_tokens=5)


@pytest.mark.parametrize(("cap", "finish"), [(100, "stop"), (5, "length")])
async def test_the_finish_is_read_from_the_usage(cap: int, finish: str) -> None:
    async def on_text(text: str) -> None:
        return None

    generation = await _provider(_stream("Hello", " there")).generate_stream(_request(cap), on_text)
    assert (generation.text, generation.finish_reason) == ("Hello there", finish)


async def test_an_unstreamed_answer_without_a_finish_reason_is_accepted_with_its_usage() -> None:
    body = chat_completion(Usage(input_tokens=10, output_tokens=5), text="Hello there")
    body["choices"][0]["finish_reason"] = None

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=body)

    provider = OpenAIProvider(
        api_key="sk-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    )
    generation = await provider.generate(_request())
    assert (generation.text, generation.finish_reason) == ("Hello there", "stop")


async def test_a_stream_cut_before_its_usage_is_still_malformed() -> None:
    """Without the usage the server sends last, nothing says the answer was whole."""

    async def on_text(text: str) -> None:
        return None

    with pytest.raises(MalformedResponse, match="without a finish reason"):
        await _provider(_stream("Hello", usage=None, done=False)).generate_stream(_request(), on_text)
