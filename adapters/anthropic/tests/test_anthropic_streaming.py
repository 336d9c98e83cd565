"""Streaming through the Anthropic SDK (`messages.stream`), with the documented server-sent events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestratex import FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import MalformedResponse, ProviderHTTPError, ProviderServerError, RateLimited
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex.usage import Usage

from .test_anthropic_provider import MODEL, provider_on, request


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


STREAM = sse(
    {
        "type": "message_start",
        "message": {
            "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-haiku-5-5",
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 25, "output_tokens": 1},
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ", world"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 15},
    },
    {"type": "message_stop"},
)


async def test_generate_stream_hands_on_each_delta_and_takes_usage_from_the_final_message() -> None:
    server = MockServer(Reply(200, content=STREAM, headers={"content-type": "text/event-stream"}))
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    generation = await provider_on(server).generate_stream(request(), on_text)
    assert server.requests[0].json["stream"] is True
    assert pieces == ["Hello", ", world"]
    assert generation.text == "Hello, world" and generation.finish_reason == "stop"
    assert generation.usage == Usage(input_tokens=25, output_tokens=15)
    assert generation.cost == MODEL.cost(generation.usage)


async def test_an_error_event_mid_stream_stands_for_the_status_of_its_type() -> None:
    """Anthropic sends an overload during a streamed answer as an `error` event in a 200 answer: it is the
    529 it stands for (a server error, retried), not a 200 "error" the orchestrator would give up on."""
    start = STREAM.split(b"event: content_block_delta")[0]  # message_start, content_block_start, ping
    for kind, expected in (
        ("overloaded_error", ProviderServerError),
        ("rate_limit_error", RateLimited),
        ("invalid_request_error", ProviderHTTPError),
        ("billing_error", ProviderHTTPError),  # (the credit ran out: was a 500, retried like a server error)
    ):
        error = sse({"type": "error", "error": {"type": kind, "message": "mid-stream trouble"}})
        server = MockServer(Reply(200, content=start + error, headers={"content-type": "text/event-stream"}))

        async def on_text(text: str) -> None:
            pass

        with pytest.raises(expected) as raised:
            await provider_on(server).generate_stream(request(), on_text)
        assert "mid-stream trouble" in raised.value.message
        if expected is ProviderHTTPError:
            status = 402 if kind == "billing_error" else 400
            assert type(raised.value) is ProviderHTTPError and raised.value.status_code == status
            assert not raised.value.retryable


async def test_a_stream_that_is_not_utf8_is_a_malformed_response() -> None:
    """Before: a raw UnicodeDecodeError escaped the adapter (and the orchestrator's fallback)."""
    latin1 = STREAM.replace(b'"text": ", world"', b'"text": ", caf\xe9"')
    assert latin1 != STREAM
    server = MockServer(Reply(200, content=latin1, headers={"content-type": "text/event-stream"}))

    async def on_text(text: str) -> None:
        pass

    with pytest.raises(MalformedResponse, match="utf-8"):
        await provider_on(server).generate_stream(request(), on_text)


async def test_a_stream_names_the_model_that_answered() -> None:
    server = MockServer(Reply(200, content=STREAM, headers={"content-type": "text/event-stream"}))

    async def on_text(text: str) -> None:
        return None

    assert (await provider_on(server).generate_stream(request(), on_text)).response_model == "claude-haiku-5-5"


async def test_a_stream_with_a_white_space_stop_sequence_still_hands_on_the_text() -> None:
    """Anthropic refuses a white-space stop sequence, applied to the whole text instead: the answer was returned, but
    no piece of it went to `on_text` (`generate_stream` promises the pieces joined are the returned text)."""
    from .test_anthropic_provider import message_body

    body = message_body({"input_tokens": 9, "output_tokens": 6}, [{"type": "text", "text": "First.\n\nSecond."}])
    server = MockServer(Reply(200, json=body))
    pieces: list[str] = []

    async def collect(text: str) -> None:
        pieces.append(text)

    generation = await provider_on(server).generate_stream(request(stop=["\n\n"]), collect)
    assert generation.text == "First." and "".join(pieces) == "First."
    assert len(server.requests) == 1


async def test_a_json_request_streamed_hands_on_the_unwrapped_object() -> None:
    """The JSON object is unwrapped from the whole text: its pieces were the fenced text while the answer was the
    object alone (`generate_stream` promises the pieces joined are the returned text)."""
    from .test_anthropic_provider import message_body

    fenced = '```json\n{"score": 8, "feedback": "clear"}\n```'
    server = MockServer(
        Reply(200, json=message_body({"input_tokens": 9, "output_tokens": 6}, [{"type": "text", "text": fenced}]))
    )
    pieces: list[str] = []

    async def collect(text: str) -> None:
        pieces.append(text)

    generation = await provider_on(server).generate_stream(request(json_output=True), collect)
    assert generation.text == '{"score": 8, "feedback": "clear"}' and pieces == [generation.text]


def test_a_long_answer_through_an_injected_client_is_streamed_as_the_sdk_requires() -> None:
    """`AnthropicProvider(client=anthropic.AsyncAnthropic(...))` (the SDK's default timeout) and an answer allowed more
    than about 21,000 tokens (`max_output_tokens=32000`): the SDK refuses such a call unstreamed, before sending it,
    with a bare `ValueError: Streaming is required for operations that may take longer than 10 minutes`, and the run
    crashed with that traceback. The call is now made as the SDK asks, streamed, and its final message is the
    answer."""
    import anthropic
    import httpx2

    from orchestratex import FunctionProvider, Orchestrator
    from orchestratex.catalog import ModelCatalog, ModelProfile
    from orchestratex_anthropic import AnthropicProvider

    server = MockServer(Reply(200, content=STREAM, headers={"content-type": "text/event-stream"}))
    client = anthropic.AsyncAnthropic(
        api_key="sk-ant-test", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    judge = ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=5)
    verdict = FunctionProvider(lambda request: '{"score": 9, "feedback": "fine"}')
    with Orchestrator(
        catalog=ModelCatalog([MODEL, judge]), providers=[AnthropicProvider(client=client), verdict]
    ) as orchestrator:
        result = orchestrator.run_sync(
            "Write a long story.", preferred_models=[MODEL.name], max_iterations=1, max_output_tokens=32000
        )
    assert result.status == "completed" and result.final_response == "Hello, world", result.error
    assert len(server.requests) == 1 and server.requests[0].json["stream"] is True
    assert server.requests[0].json["max_tokens"] == 32000
    assert result.total_cost > 0


@pytest.mark.parametrize(
    "body",
    [
        b"",  # (the connection closed right after the status line and headers)
        sse({"type": "ping"}),
        json.dumps({"type": "message", "content": []}).encode(),  # (a gateway that ignores `stream`)
    ],
)
async def test_a_stream_that_ends_before_its_message_starts_is_a_malformed_response(body: bytes) -> None:
    """A 200 stream that ended before `message_start` made the SDK raise a bare `AssertionError`, which escaped the
    adapter: `run_stream` crashed ("failed unexpectedly", a traceback) instead of moving on to another model."""
    server = MockServer(Reply(200, content=body, headers={"content-type": "text/event-stream"}))

    async def on_text(text: str) -> None:
        raise AssertionError("no text came")

    with pytest.raises(MalformedResponse, match="ended before its message began") as raised:
        await provider_on(server).generate_stream(request(), on_text)
    assert raised.value.model == MODEL.name and raised.value.retryable is False


async def test_a_stream_cut_before_its_message_delta_says_the_answer_is_incomplete() -> None:
    """A stream whose body ended cleanly after some text, without `message_delta` and `message_stop`, failed with
    "message without content, usage or stop reason", though the message had both content and usage: it now says the
    stream ended without a stop reason, the answer being incomplete."""
    cut = STREAM.split(b"event: content_block_stop")[0]  # message_start, a text block and two deltas
    server = MockServer(Reply(200, content=cut, headers={"content-type": "text/event-stream"}))
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    with pytest.raises(MalformedResponse, match=r"ended without a stop reason .*the answer is incomplete"):
        await provider_on(server).generate_stream(request(), on_text)
    assert pieces == ["Hello", ", world"]


async def test_an_assertion_of_whoever_takes_the_text_is_passed_on_as_it_is() -> None:
    """The adapter reads the SDK's bare `AssertionError` (a stream without `message_start`) as a `MalformedResponse`;
    one raised by `on_text` — an `on_delta` of `Orchestrator.drive` asserting in a test — was taken for it too: the
    test's failure became "the message stream ended before its message began", and the run fell back to another
    model. It is now passed on as it is."""
    server = MockServer(Reply(200, content=STREAM, headers={"content-type": "text/event-stream"}))

    async def on_text(text: str) -> None:
        raise AssertionError(f"the test did not expect {text!r}")

    with pytest.raises(AssertionError, match="the test did not expect 'Hello'"):
        await provider_on(server).generate_stream(request(), on_text)


async def test_a_stream_the_sdk_cannot_read_is_malformed_and_the_run_goes_on() -> None:
    """A gateway translating another vendor's stream that sends text deltas without their `content_block_start` made
    the SDK fail reading it (a bare IndexError, out of `Orchestrator.run` itself: the run failed, no other model
    tried). It is a MalformedResponse, and the run goes on with the next model."""
    unopened = sse(*(e for e in _events(STREAM) if e["type"] != "content_block_start"))
    server = MockServer().always(Reply(200, content=unopened, headers={"content-type": "text/event-stream"}))

    async def ignore(text: str) -> None:
        return None

    with pytest.raises(MalformedResponse, match=r"its SDK \(anthropic\) could not read.*IndexError"):
        await provider_on(server).generate_stream(request(), ignore)
    other = ModelProfile(name="function:other", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=1)
    judge = ModelProfile(name="function:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=1)
    function = FunctionProvider(lambda r: '{"score": 9, "feedback": "ok"}' if r.purpose == "judge" else "Hello.")
    async with Orchestrator(
        providers=[provider_on(server), function], catalog=ModelCatalog([MODEL, other, judge]), judges=[judge.name]
    ) as orchestrator:
        async with orchestrator.run_stream("Hi", preferred_models=[MODEL.name, other.name]) as stream:
            async for _ in stream:
                pass
    assert stream.result is not None and stream.result.final_model == other.name, stream.result
    assert "MalformedResponse" in stream.result.orchestration.iterations[0].errors[0]


def _events(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in body.decode().splitlines() if line.startswith("data: ")]
