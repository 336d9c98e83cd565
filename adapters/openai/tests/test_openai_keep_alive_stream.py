"""A stream kept alive with SSE comments and no chunk (DeepSeek's `: keep-alive` under load, for up to 30 minutes;
OpenRouter's `: OPENROUTER PROCESSING` while its upstream does not answer): each comment reset the read timeout, so
`timeout=` never ended it, as docs/providers/openai.md says it does ("a streamed one when no piece came for that
long"), and the run waited as long as the server kept it open."""

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
from orchestratex_openai import OpenAIProvider

MODEL = ModelProfile(name="openai:deepseek-chat", input_cost_per_1k=0.00027, output_cost_per_1k=0.0011, quality=9)
OTHER = ModelProfile(name="function:other", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=5)
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=5)
COMMENTS = 200
"""How many keep-alive comments the server sends, one every 50 ms, before it gives up (10 s)."""


def _event(body: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(body)}\n\n".encode()


def _chunk(content: str | None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return _event(
        {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "deepseek-chat", "choices": [choice]}
    )


Script = Callable[[Callable[[bytes], Awaitable[None]]], Awaitable[None]]


@asynccontextmanager
async def _server(script: Script) -> AsyncIterator[str]:
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
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    finally:
        server.close()
        await server.wait_closed()


async def _kept_alive(send: Callable[[bytes], Awaitable[None]]) -> None:
    await send(_chunk("The answer"))
    for _ in range(COMMENTS):
        await asyncio.sleep(0.05)
        await send(b": keep-alive\n\n")


STEADY = 40
"""Chunks of the steady stream, one every 0.1 s: 4 s in all, longer than its tests' timeout (`STEADY_TIMEOUT_S`)."""
STEADY_TIMEOUT_S = 3.0
"""Each chunk comes well within it: with 0.5 s, a pause of the test process (which serves the stream too) past it, a
collection of CI's 2 GB heap on a loaded runner, fired the timeout before the loop read the chunk already sent."""


async def _steady(send: Callable[[bytes], Awaitable[None]]) -> None:
    for i in range(STEADY):
        await asyncio.sleep(0.1)
        await send(_chunk(f"w{i} "))
    await send(_chunk(None, "stop"))
    usage = {"prompt_tokens": 5, "completion_tokens": STEADY, "total_tokens": 5 + STEADY}
    await send(
        _event(
            {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [], "usage": usage}
        )
    )
    await send(b"data: [DONE]\n\n")


@pytest.fixture(autouse=True)
def _local_server_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not the vendor


def _request() -> GenerationRequest:
    return GenerationRequest(model=MODEL, messages=[Message(role="user", content="Hi")], max_output_tokens=10)


async def test_a_stream_of_keep_alive_comments_times_out() -> None:
    async with _server(_kept_alive) as url:
        provider = OpenAIProvider(api_key="sk-test", base_url=url, timeout=0.5)
        pieces: list[str] = []

        async def on_text(text: str) -> None:
            pieces.append(text)

        with pytest.raises(ProviderTimeout, match=r"stopped sending its answer mid-stream \(after 10 characters"):
            await provider.generate_stream(_request(), on_text)
        await provider.aclose()
    assert pieces == ["The answer"]


async def test_a_stream_whose_chunks_keep_coming_is_not_cut_by_the_timeout() -> None:
    async with _server(_steady) as url:
        provider = OpenAIProvider(api_key="sk-test", base_url=url, timeout=STEADY_TIMEOUT_S)

        async def on_text(text: str) -> None:
            return None

        generation = await provider.generate_stream(_request(), on_text)
        await provider.aclose()
    assert generation.text == "".join(f"w{i} " for i in range(STEADY)) and generation.finish_reason == "stop"


async def test_a_run_falls_back_from_a_stream_kept_alive_without_an_answer() -> None:
    async with _server(_kept_alive) as url:
        other = FunctionProvider(lambda r: '{"score": 9, "feedback": "ok"}' if r.purpose == "judge" else "Hi there.")
        orch = Orchestrator(
            providers=[OpenAIProvider(api_key="sk-test", base_url=url, timeout=0.5), other],
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
    """Only a chunk that did not come in time is the server's `ProviderTimeout` (retried, the model's circuit charged):
    a `TimeoutError` raised while the text is handed on is passed on as it is."""
    async with _server(_steady) as url:
        provider = OpenAIProvider(api_key="sk-test", base_url=url, timeout=STEADY_TIMEOUT_S)

        async def on_text(text: str) -> None:
            raise TimeoutError("the client's own send timed out")

        with pytest.raises(TimeoutError, match="the client's own send") as raised:
            await provider.generate_stream(_request(), on_text)
        await provider.aclose()
    assert not isinstance(raised.value, ProviderTimeout)
