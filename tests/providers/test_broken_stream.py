"""A stream whose connection breaks (a reset) or goes silent after the server answered, over a real socket.

Each adapter reported it as a server that cannot be reached, "cannot reach openai at …: " (an empty reason), though
the server had answered 200 and part of the answer had been handed on already. Now the error says the connection
broke mid-stream, after how much of the answer, and why; it is still retried as a connection error is."""

from __future__ import annotations

import contextlib
import json
import socket
from typing import Any

import pytest

import orchestratex.providers
from orchestratex import FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import ProviderConnectionError, ProviderTimeout
from orchestratex.orchestrator import RetryPolicy
from orchestratex.providers import GenerationRequest, Message, Provider
from orchestratex.testing.provider_contract import silent_server

pytest.importorskip("orchestratex_openai")
pytest.importorskip("orchestratex_anthropic")
pytest.importorskip("orchestratex_gemini")

from orchestratex_anthropic import AnthropicProvider
from orchestratex_gemini import GeminiProvider
from orchestratex_openai import OpenAIProvider


def _sse(events: list[dict[str, Any]], *, named: bool = False) -> bytes:
    return b"".join(
        (f"event: {e['type']}\n" if named else "").encode() + f"data: {json.dumps(e)}\n\n".encode() for e in events
    )


def _openai_part() -> bytes:
    """The first chunks of a documented `chat.completion.chunk` stream: "Hello there", no finish, no usage."""
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1694268190, "model": "gpt-4.1"}
    deltas = [{"role": "assistant", "content": ""}, {"content": "Hello"}, {"content": " there"}]
    return _sse([{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas])


def _anthropic_part() -> bytes:
    """The first events of a documented Messages stream: "Hello there", no `message_stop`."""
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-haiku-4-5",
    }
    message |= {"stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 25, "output_tokens": 1}}
    return _sse(
        [
            {"type": "message_start", "message": message},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " there"}},
        ],
        named=True,
    )


def _gemini_part() -> bytes:
    """The first chunks of a documented `streamGenerateContent?alt=sse` stream: "Hello there", no finish reason."""
    usage = {"promptTokenCount": 9, "totalTokenCount": 9}
    return _sse(
        [
            {"candidates": [{"content": {"role": "model", "parts": [{"text": t}]}, "index": 0}], "usageMetadata": usage}
            for t in ("Hello", " there")
        ]
    )


def breaking_server(part: bytes, *, then: str) -> contextlib.AbstractContextManager[str]:
    """A server on 127.0.0.1 that answers every request 200 with `part` of a stream, then closes the connection
    (`then="closed"`, as a server that went down or a proxy that dropped it) or sends nothing more (`"silent"`),
    until the test ends. Yields its base URL."""

    def answer(conn: socket.socket) -> None:
        conn.recv(65536)
        head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        conn.sendall(head + f"{len(part):x}\r\n".encode() + part + b"\r\n")
        if then == "closed":  # (before the stream's last chunk: the client reads all that came, then the end)
            conn.shutdown(socket.SHUT_WR)

    return silent_server(answer)


@pytest.fixture(autouse=True)
def _local_server_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not the vendor


ADAPTERS = [
    (lambda url, **kw: OpenAIProvider(api_key="sk-test", base_url=f"{url}/v1", **kw), "openai:gpt-4.1", _openai_part),
    (
        lambda url, **kw: AnthropicProvider(api_key="sk-ant-test", base_url=url, **kw),
        "anthropic:claude-x",
        _anthropic_part,
    ),
    (lambda url, **kw: GeminiProvider(api_key="AIza-test", base_url=url, **kw), "gemini:gemini-x", _gemini_part),
]


def _ask(name: str) -> GenerationRequest:
    model = ModelProfile(name=name, input_cost_per_1k=0.002, output_cost_per_1k=0.008)
    return GenerationRequest(model=model, messages=[Message(role="user", content="Say hello")], max_output_tokens=50)


@pytest.mark.parametrize(("make", "name", "part"), ADAPTERS, ids=["openai", "anthropic", "gemini"])
async def test_a_connection_closed_mid_stream_says_so_after_how_much_of_the_answer(
    make: Any, name: str, part: Any
) -> None:
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    with breaking_server(part(), then="closed") as url:
        provider: Provider = make(url)
        with pytest.raises(ProviderConnectionError) as raised:
            await provider.generate_stream(_ask(name), on_text)
        await provider.aclose()
    assert "".join(pieces) == "Hello there"
    message = str(raised.value)
    assert "cannot reach" not in message
    assert message.startswith(f"the connection to {name.partition(':')[0]}")
    assert "broke mid-stream, after 11 characters of the answer: " in message
    assert raised.value.retryable and raised.value.model == name


@pytest.mark.parametrize(("make", "name", "part"), ADAPTERS, ids=["openai", "anthropic", "gemini"])
async def test_a_stream_gone_silent_mid_answer_says_so(make: Any, name: str, part: Any) -> None:
    with breaking_server(part(), then="silent") as url:
        provider: Provider = make(url, timeout=2.0)  # (the first chunks come at once; then silence)

        async def on_text(text: str) -> None:
            return None

        with pytest.raises(ProviderTimeout) as raised:
            await provider.generate_stream(_ask(name), on_text)
        await provider.aclose()
    assert "stopped sending its answer mid-stream (after 11 characters of the answer)" in str(raised.value)
    assert raised.value.retryable


async def test_a_run_whose_stream_keeps_breaking_says_why_it_failed() -> None:
    judge = ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.001)
    model = ModelProfile(name="openai:gpt-4.1", input_cost_per_1k=0.002, output_cost_per_1k=0.008)
    with breaking_server(_openai_part(), then="closed") as url:
        orchestrator = Orchestrator(
            providers=[OpenAIProvider(api_key="sk-test", base_url=f"{url}/v1"), FunctionProvider(lambda r: "{}")],
            catalog=ModelCatalog([model, judge]),
            retry=RetryPolicy(max_attempts=2, initial_wait=0, max_wait=0),
        )
        async with orchestrator.run_stream("Say hello", preferred_models=["openai:gpt-4.1"]) as stream:
            async for _ in stream:
                pass
        await orchestrator.aclose()
    assert stream.result.status == "failed"
    assert "broke mid-stream, after 11 characters of the answer" in (stream.result.error or ""), stream.result.error
