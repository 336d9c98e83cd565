"""Streaming through the OpenAI SDK (`stream=True` with usage), `run_stream` end to end, and `run_sync` twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from orchestratex import AnswerDelta, BayesianRouter, FunctionProvider, GenerationRequest, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import (
    MalformedResponse,
    ProviderError,
    ProviderHTTPError,
    ProviderServerError,
    RateLimited,
)
from orchestratex.orchestrator import RetryPolicy
from orchestratex.providers import Message
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

from .test_openai_contract import chat_completion

MODEL = ModelProfile(name="openai:gpt-4.1", input_cost_per_1k=0.002, output_cost_per_1k=0.008, quality=9)
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=5)


def chunk(delta: dict[str, Any], finish: str | None = None, usage: Usage | None = None) -> bytes:
    """One `chat.completion.chunk` as an SSE event, as documented in the streaming API reference."""
    body: dict[str, Any] = {
        "id": "chatcmpl-123",
        "object": "chat.completion.chunk",
        "created": 1694268190,
        "model": "gpt-4.1",
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [] if usage else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
    }
    if usage is not None:
        body["usage"] = {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
        }
    return f"data: {json.dumps(body)}\n\n".encode()


USAGE = Usage(input_tokens=21, output_tokens=4)
EVENTS = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Hello"}),
    chunk({"content": " there"}),
    chunk({}, finish="stop"),
    chunk({}, usage=USAGE),
    b"data: [DONE]\n\n",
]


def streaming_client(first_sent: asyncio.Event | None = None, events: list[bytes] = EVENTS) -> httpx2.AsyncClient:
    """A client whose server streams `events`; after the first content event it waits for `first_sent`."""

    async def body() -> AsyncIterator[bytes]:
        for i, event in enumerate(events):
            yield event
            if i == 1 and first_sent is not None:
                await asyncio.wait_for(first_sent.wait(), timeout=5)

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent = json.loads(request.content)
        if not sent.get("stream"):
            return httpx2.Response(200, json=chat_completion(USAGE, text="Hello there"))
        assert sent["stream_options"] == {"include_usage": True}
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    return httpx2.AsyncClient(transport=httpx2.MockTransport(handler))


def request() -> GenerationRequest:
    return GenerationRequest(model=MODEL, messages=[Message(role="user", content="Say hello")], max_output_tokens=50)


def kimi_finish(usage: Usage) -> bytes:
    """Moonshot's Kimi's finish chunk: its stream's usage in the choice (`choices[0].usage`), not at the top level."""
    event = json.loads(chunk({}, finish="stop").removeprefix(b"data: "))
    event["choices"][0]["usage"] = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "cached_tokens": usage.cached_input_tokens,
    }
    return f"data: {json.dumps(event)}\n\n".encode()


async def test_a_stream_whose_usage_comes_in_its_finish_chunk_s_choice_is_priced_by_it() -> None:
    """Moonshot's Kimi sends a stream's usage in `choices[0].usage` of its finish chunk: without a top-level `usage`, a
    priced model's answer was counted at its worst case (`NoStreamedUsage`) and the server's next calls unstreamed."""
    events = [*EVENTS[:3], kimi_finish(USAGE), b"data: [DONE]\n\n"]
    provider = OpenAIProvider(api_key="sk-test", http_client=streaming_client(events=events))

    async def on_text(text: str) -> None:
        return None

    generation = await provider.generate_stream(request(), on_text)
    assert (generation.text, generation.usage, generation.cost) == ("Hello there", USAGE, MODEL.cost(USAGE))
    assert provider.stream_usage  # (its next calls still streamed)


async def test_generate_stream_hands_on_each_delta_and_returns_exact_usage() -> None:
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    provider = OpenAIProvider(api_key="sk-test", http_client=streaming_client())
    generation = await provider.generate_stream(request(), on_text)
    assert pieces == ["Hello", " there"]
    assert generation.text == "Hello there"
    assert generation.usage == USAGE and generation.finish_reason == "stop"
    assert generation.cost == MODEL.cost(USAGE)


async def test_a_stream_without_usage_costs_a_priced_model_its_worst_case_and_is_estimated_for_a_free_one() -> None:
    """A priced model's stream without usage was a `MalformedResponse`, counted at $0 though billed; it is now the
    answer, at the call's worst case: 25 input tokens at most ("Say hello", 8 for the message, 8 more) at $2 / MTok
    and its 50-token cap at $8 / MTok."""
    events = [e for e in EVENTS if b'"usage": {' not in e]

    async def on_text(text: str) -> None:
        return None

    provider = OpenAIProvider(api_key="sk-test", http_client=streaming_client(events=events))
    generation = await provider.generate_stream(request(), on_text)
    assert (generation.text, generation.usage, generation.reported_cost) == ("Hello there", Usage(), 0.00045)
    free = ModelProfile(name="openai:llama3.2", input_cost_per_1k=0, output_cost_per_1k=0)
    generation = await provider.generate_stream(request().model_copy(update={"model": free}), on_text)
    assert generation.text == "Hello there" and generation.cost == 0 and generation.usage.output_tokens > 0


async def test_a_stream_that_is_not_utf8_is_a_malformed_response() -> None:
    """Before: a raw UnicodeDecodeError escaped the adapter (and the orchestrator's fallback)."""
    events = [EVENTS[0], chunk({"content": "caf\u00e9"}).replace(b"caf\\u00e9", b"caf\xe9"), *EVENTS[3:]]

    async def on_text(text: str) -> None:
        return None

    provider = OpenAIProvider(api_key="sk-test", http_client=streaming_client(events=events))
    with pytest.raises(MalformedResponse, match="utf-8"):
        await provider.generate_stream(request(), on_text)


def judge_provider() -> FunctionProvider:
    return FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "good"}))


async def test_run_stream_delivers_the_first_token_before_the_model_finishes() -> None:
    first_sent = asyncio.Event()
    openai = OpenAIProvider(api_key="sk-test", http_client=streaming_client(first_sent))
    orch = Orchestrator(
        providers=[openai, judge_provider()],
        catalog=ModelCatalog([MODEL, JUDGE]),
        router=BayesianRouter(explore=False),
        retry=RetryPolicy(max_attempts=1),
    )
    texts = []
    async with orch.run_stream("Say hello", preferred_models=["openai:gpt-4.1"]) as stream:
        async for item in stream:
            if isinstance(item, AnswerDelta):
                texts.append(item.text)
                first_sent.set()  # the server sends the rest only now: buffering would time out
    assert texts == ["Hello", " there"]
    assert stream.result.final_response == "Hello there"
    assert stream.result.orchestration.iterations[0].usage == USAGE


def error_event(error: dict[str, Any]) -> bytes:
    return f"data: {json.dumps({'error': error})}\n\n".encode()


@pytest.mark.parametrize(
    ("error", "expected", "status"),
    [
        ({"message": "upstream overloaded", "type": "server_error", "code": None}, ProviderServerError, 500),
        ({"message": "overloaded", "type": "InternalServerError", "code": 503}, ProviderServerError, 503),  # vLLM
        ({"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}, RateLimited, 429),
        ({"message": "too long", "type": "BadRequestError", "code": 400}, ProviderHTTPError, 400),
        # OpenRouter's mid-stream error names the server error by its `code` (was a ProviderError, never retried)
        ({"message": "Provider disconnected unexpectedly", "code": "server_error"}, ProviderServerError, 500),
        # OpenAI's codes of its 503 and 429 (a model without capacity, a client to slow down): were not retried
        (
            {"message": "The server is overloaded", "type": None, "code": "server_is_overloaded"},
            ProviderServerError,
            503,
        ),
        ({"message": "Please slow down", "type": None, "code": "slow_down"}, RateLimited, 429),
    ],
)
async def test_an_error_event_mid_stream_is_classified_as_the_status_it_stands_for(
    error: dict[str, Any], expected: type[ProviderHTTPError], status: int
) -> None:
    provider = OpenAIProvider(api_key="sk-test", http_client=streaming_client(events=[*EVENTS[:2], error_event(error)]))

    async def on_text(text: str) -> None:
        return None

    with pytest.raises(expected) as raised:
        await provider.generate_stream(request(), on_text)
    assert type(raised.value) is expected and raised.value.status_code == status
    assert raised.value.retryable == (status >= 500 or status == 429)
    assert error["message"] in str(raised.value) and "mid-stream" in str(raised.value)


async def test_an_error_event_without_a_status_stays_a_provider_error() -> None:
    events = [*EVENTS[:2], error_event({"message": "something odd", "type": "weird"})]
    provider = OpenAIProvider(api_key="sk-test", http_client=streaming_client(events=events))

    async def on_text(text: str) -> None:
        return None

    with pytest.raises(ProviderError, match="something odd") as raised:
        await provider.generate_stream(request(), on_text)
    assert type(raised.value) is ProviderError and not raised.value.retryable


async def test_run_stream_retries_a_server_error_sent_mid_stream_as_it_retries_a_5xx() -> None:
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        events = [*EVENTS[:2], error_event({"message": "upstream overloaded", "type": "server_error"})]
        body = b"".join(events if calls == 1 else EVENTS)
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    openai = OpenAIProvider(api_key="sk-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)))
    orch = Orchestrator(
        providers=[openai, judge_provider()],
        catalog=ModelCatalog([MODEL, JUDGE]),
        router=BayesianRouter(explore=False),
        retry=RetryPolicy(max_attempts=3, initial_wait=0, max_wait=0),
    )
    async with orch.run_stream("Say hello", preferred_models=["openai:gpt-4.1"], max_iterations=1) as stream:
        async for _ in stream:
            pass
    assert calls == 2 and stream.result.final_response == "Hello there"


def test_run_sync_twice_on_one_orchestrator_uses_one_event_loop() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def handler(request: httpx2.Request) -> httpx2.Response:
        loops.append(asyncio.get_running_loop())
        return httpx2.Response(200, json=chat_completion(USAGE, text="Hello there"))

    client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    with Orchestrator(
        providers=[OpenAIProvider(api_key="sk-test", http_client=client), judge_provider()],
        catalog=ModelCatalog([MODEL, JUDGE]),
        router=BayesianRouter(explore=False),
    ) as orch:
        for _ in range(2):
            result = orch.run_sync("Say hello", preferred_models=["openai:gpt-4.1"])
            assert result.status == "completed" and result.final_response == "Hello there"
    assert len(loops) == 2 and loops[0] is loops[1] and loops[0].is_closed()


def test_run_sync_raises_errors_as_they_are() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise AssertionError("no request expected")

    orch = Orchestrator(
        providers=[
            OpenAIProvider(api_key="sk-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(refuse)))
        ],
        catalog=ModelCatalog([MODEL]),
    )
    from orchestratex import UserError

    with pytest.raises(UserError) as info:
        orch.run_sync("   ")
    assert info.value.__cause__ is None and info.value.__context__ is None
    orch.close()


@pytest.mark.parametrize(
    ("model", "api", "reply"),
    [
        # a reasoning model takes no `stop`: it is applied to the whole text
        (ModelProfile(name="openai:o3", input_cost_per_1k=0.002, output_cost_per_1k=0.008), "auto", "chat"),
        (MODEL, "responses", "responses"),  # the Responses API has no stop sequences
    ],
)
async def test_a_stream_with_stop_sequences_it_cannot_send_still_hands_on_the_text(
    model: ModelProfile, api: str, reply: str
) -> None:
    """Its pieces were "1, 2, 3 " and "STOP 4" (Responses API) while the answer was "1, 2, 3 "; or none at all
    (a reasoning model): `generate_stream` promises the pieces joined are the returned text."""
    from orchestratex.testing.provider_contract import MockServer, Reply

    from .test_openai_contract import responses_object

    usage = Usage(input_tokens=9, output_tokens=6)
    body = (
        chat_completion(usage, text="1, 2, 3 STOP 4")
        if reply == "chat"
        else responses_object(usage, text="1, 2, 3 STOP 4")
    )
    server = MockServer(Reply(200, json=body))
    provider = OpenAIProvider(
        api_key="sk-test",
        api=api,  # type: ignore[arg-type]
        http_client=httpx2.AsyncClient(transport=server.httpx2_transport()),
    )
    pieces: list[str] = []

    async def collect(text: str) -> None:
        pieces.append(text)

    ask = GenerationRequest(model=model, messages=[Message(role="user", content="Count.")], stop=["STOP"])
    generation = await provider.generate_stream(ask, collect)
    assert generation.text == "1, 2, 3 " and "".join(pieces) == generation.text
    assert len(server.requests) == 1 and "stop" not in server.requests[0].json


async def test_a_json_request_streamed_hands_on_the_unwrapped_object_as_generate_returns_it() -> None:
    """Streamed, a JSON answer in a code fence (a server without OpenAI's JSON mode) came back fenced, while
    `generate` returns the object alone: a JSON request is answered as `generate` answers it, in one piece."""
    from orchestratex.testing.provider_contract import MockServer, Reply

    fenced = '```json\n{"score": 8, "feedback": "clear"}\n```'
    server = MockServer(Reply(200, json=chat_completion(Usage(input_tokens=9, output_tokens=12), text=fenced)))
    provider = OpenAIProvider(api_key="sk-test", http_client=httpx2.AsyncClient(transport=server.httpx2_transport()))
    pieces: list[str] = []

    async def collect(text: str) -> None:
        pieces.append(text)

    ask = GenerationRequest(model=MODEL, messages=[Message(role="user", content="Judge it.")], json_output=True)
    generation = await provider.generate_stream(ask, collect)
    assert generation.text == '{"score": 8, "feedback": "clear"}' and pieces == [generation.text]


UNVERIFIED = {  # OpenAI's answer to a stream of `o3` or `gpt-5` asked by an organization it has not verified
    "error": {
        "message": "Your organization must be verified to stream this model. Please go to:"
        " https://platform.openai.com/settings/organization/general and click on Verify Organization. If you just"
        " verified, it can take up to 15 minutes for access to propagate.",
        "type": "invalid_request_error",
        "param": "stream",
        "code": "unsupported_value",
    }
}


@pytest.mark.parametrize(
    ("model", "api"),
    [
        (ModelProfile(name="openai:o3", input_cost_per_1k=0.002, output_cost_per_1k=0.008), "chat"),
        (ModelProfile(name="openai:gpt-5-pro", input_cost_per_1k=0.015, output_cost_per_1k=0.12), "responses"),
    ],
)
async def test_a_model_an_unverified_organization_may_not_stream_is_answered_unstreamed(
    model: ModelProfile, api: str
) -> None:
    """`run_stream` (and `/v1`'s live streams) with `o3` or `gpt-5` for an organization OpenAI has not verified: every
    streamed call failed with a non-retried 400 "Your organization must be verified to stream this model", though the
    same model answers that organization unstreamed, so the run fell back to other models. Such a call is now answered
    unstreamed, in one piece, and that model is not asked for a stream again."""
    from .test_openai_contract import responses_object

    bodies: list[dict[str, Any]] = []
    paths: list[str] = []

    def openai_api(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        bodies.append(body)
        paths.append(request.url.path)
        if body.get("stream"):
            return httpx2.Response(400, json=UNVERIFIED)
        usage = Usage(input_tokens=9, output_tokens=60, reasoning_tokens=56)
        if request.url.path.endswith("/responses"):
            return httpx2.Response(200, json=responses_object(usage, text="Four."))
        return httpx2.Response(200, json=chat_completion(usage, text="Four.", model="o3-2025-04-16"))

    provider = OpenAIProvider(
        api_key="sk-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(openai_api))
    )
    ask = GenerationRequest(model=model, messages=[Message(role="user", content="2+2?")], max_output_tokens=100)
    pieces: list[str] = []

    async def collect(text: str) -> None:
        pieces.append(text)

    for _ in range(2):
        generation = await provider.generate_stream(ask, collect)
        assert generation.text == "Four." and generation.usage.reasoning_tokens == 56
    assert pieces == ["Four.", "Four."]
    assert [bool(body.get("stream")) for body in bodies] == [True, False, False]
    endpoint = "/responses" if api == "responses" else "/chat/completions"
    assert all(path.endswith(endpoint) for path in paths), paths


async def test_through_openrouter_too() -> None:
    """OpenRouter with one's own OpenAI key (BYOK) passes OpenAI's refusal on as "Provider returned error", OpenAI's
    own error quoted in `metadata.raw`."""
    from orchestratex_openai import OpenRouterProvider

    raw = json.dumps(UNVERIFIED, indent=2)
    refused = {"error": {"message": "Provider returned error", "code": 400, "metadata": {"raw": raw}}}
    streamed: list[bool] = []

    def openrouter(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        streamed.append(bool(body.get("stream")))
        if body.get("stream"):
            return httpx2.Response(400, json=refused)
        usage = Usage(input_tokens=9, output_tokens=60, reasoning_tokens=56)
        return httpx2.Response(200, json=chat_completion(usage, text="Four.", model="openai/o3"))

    provider = OpenRouterProvider(
        api_key="sk-or-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(openrouter))
    )
    model = ModelProfile(name="openrouter:openai/o3", input_cost_per_1k=0.002, output_cost_per_1k=0.008)
    ask = GenerationRequest(model=model, messages=[Message(role="user", content="2+2?")], max_output_tokens=100)
    pieces: list[str] = []

    async def collect(text: str) -> None:
        pieces.append(text)

    assert (await provider.generate_stream(ask, collect)).text == "Four."
    assert (await provider.generate_stream(ask, collect)).text == "Four."
    assert pieces == ["Four.", "Four."] and streamed == [True, False, False]
