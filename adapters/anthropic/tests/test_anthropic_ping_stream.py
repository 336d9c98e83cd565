"""A stream kept alive with `ping` events and nothing else: Anthropic documents that a stream "may include any number of
ping events", and each one reset the HTTP read timeout, so `timeout=` never ended a stream whose answer did not come
(an overloaded model, a gateway holding the connection open), and the run waited as long as the server kept it open."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

import orchestratex.providers
from orchestratex import AnswerDelta, BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import ProviderTimeout
from orchestratex.orchestrator import RetryPolicy
from orchestratex.providers import GenerationRequest, Message
from orchestratex_anthropic import AnthropicProvider

MODEL = ModelProfile(name="anthropic:claude-haiku-5-5", input_cost_per_1k=0.001, output_cost_per_1k=0.005, quality=9)
OTHER = ModelProfile(name="function:other", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=5)
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=5)
PINGS = 200
"""How many pings the server sends, one every 50 ms, before it gives up (10 s)."""

Send = Callable[[bytes], Awaitable[None]]


def _event(body: dict[str, Any]) -> bytes:
    return f"event: {body['type']}\ndata: {json.dumps(body)}\n\n".encode()


START = _event(
    {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-haiku-5-5",
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 5, "output_tokens": 1},
        },
    }
)
BLOCK = _event({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
PING = _event({"type": "ping"})


def _text(text: str) -> bytes:
    return _event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})


def _end(output_tokens: int) -> bytes:
    return (
        _event({"type": "content_block_stop", "index": 0})
        + _event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            }
        )
        + _event({"type": "message_stop"})
    )


@asynccontextmanager
async def _server(script: Callable[[Send], Awaitable[None]]) -> AsyncIterator[str]:
    """A real HTTP/1.1 server on a free local port answering each request with a chunked SSE body that `script`
    writes."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")

        async def send(data: bytes) -> None:
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()

        try:
            await script(send)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except (ConnectionError, OSError):  # (the client gave up and closed it)
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


async def _pinged(send: Send, keep_alive: bytes = PING) -> None:
    await send(START + BLOCK + _text("The answer"))
    for _ in range(PINGS):
        await asyncio.sleep(0.05)
        await send(keep_alive)
    await send(_end(3))


async def _commented(send: Send) -> None:
    """DeepSeek's Anthropic API (`https://api.deepseek.com/anthropic`) keeps a stream alive under load with SSE
    comments, as its OpenAI API does."""
    await _pinged(send, b": keep-alive\n\n")


STEADY = 40
"""Events of the steady stream, one every 0.1 s (a ping between): 4 s in all, longer than its tests' timeout
(`STEADY_TIMEOUT_S`)."""
STEADY_TIMEOUT_S = 3.0
"""Each event comes well within it: with 0.5 s, a pause of the test process (which serves the stream too) past it, a
collection of CI's 2 GB heap on a loaded runner, fired the timeout before the loop read the event already sent."""


async def _steady(send: Send) -> None:
    await send(START + BLOCK)
    for i in range(STEADY):
        await asyncio.sleep(0.1)
        await send(PING + _text(f"w{i} "))
    await send(_end(STEADY))


@pytest.fixture(autouse=True)
def _local_server_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not the vendor


def _request() -> GenerationRequest:
    return GenerationRequest(model=MODEL, messages=[Message(role="user", content="Hi")], max_output_tokens=10)


@pytest.mark.parametrize("script", [_pinged, _commented], ids=["pings", "comments"])
async def test_a_stream_of_pings_times_out(script: Callable[[Send], Awaitable[None]]) -> None:
    async with _server(script) as url:
        provider = AnthropicProvider(api_key="sk-ant-test", base_url=url, timeout=0.5)
        pieces: list[str] = []

        async def on_text(text: str) -> None:
            pieces.append(text)

        with pytest.raises(ProviderTimeout, match=r"stopped sending its answer mid-stream \(after 10 characters"):
            await provider.generate_stream(_request(), on_text)
        await provider.aclose()
    assert pieces == ["The answer"]


async def test_a_stream_whose_events_keep_coming_is_not_cut_by_the_timeout() -> None:
    async with _server(_steady) as url:
        provider = AnthropicProvider(api_key="sk-ant-test", base_url=url, timeout=STEADY_TIMEOUT_S)
        pieces: list[str] = []

        async def on_text(text: str) -> None:
            pieces.append(text)

        generation = await provider.generate_stream(_request(), on_text)
        await provider.aclose()
    assert generation.text == "".join(pieces) == "".join(f"w{i} " for i in range(STEADY))
    assert generation.finish_reason == "stop" and generation.usage.output_tokens == STEADY


async def test_a_run_falls_back_from_a_stream_of_pings() -> None:
    async with _server(_pinged) as url:
        other = FunctionProvider(lambda r: '{"score": 9, "feedback": "ok"}' if r.purpose == "judge" else "Hi there.")
        orch = Orchestrator(
            providers=[AnthropicProvider(api_key="sk-ant-test", base_url=url, timeout=0.5), other],
            catalog=ModelCatalog([MODEL, OTHER, JUDGE]),
            router=BayesianRouter(explore=False),
            judges=[JUDGE.name],
            retry=RetryPolicy(max_attempts=1),
        )
        preferred = [MODEL.name, OTHER.name]
        async with orch.run_stream("Hi", max_iterations=1, max_output_tokens=10, preferred_models=preferred) as stream:
            async for item in stream:
                assert isinstance(item, AnswerDelta) or item.type != "orchestration_failed"
        await orch.aclose()
    assert stream.result.final_response == "Hi there."
    assert "ProviderTimeout" in stream.result.orchestration.iterations[0].errors[0]


async def test_a_timeout_of_whoever_takes_the_text_is_not_the_server_s() -> None:
    """Only an event that did not come in time is the server's `ProviderTimeout` (retried, the model's circuit
    charged): a `TimeoutError` raised while the text is handed on is passed on as it is."""
    async with _server(_steady) as url:
        provider = AnthropicProvider(api_key="sk-ant-test", base_url=url, timeout=STEADY_TIMEOUT_S)

        async def on_text(text: str) -> None:
            raise TimeoutError("the client's own send timed out")

        with pytest.raises(TimeoutError, match="the client's own send") as raised:
            await provider.generate_stream(_request(), on_text)
        await provider.aclose()
    assert not isinstance(raised.value, ProviderTimeout)
