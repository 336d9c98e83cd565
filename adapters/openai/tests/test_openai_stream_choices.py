"""Which choice of a streamed chunk is the answer: servers that number it otherwise than OpenAI's `index: 0`."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex.catalog import ModelProfile
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex_openai import OpenAICompatibleProvider

MODEL = ModelProfile(name="tgi:zephyr-7b-beta", cost_per_1k_tokens=0, context_window=4096, quality=5)


class TGIProvider(OpenAICompatibleProvider):
    name = "tgi"


def event(choice: dict[str, Any] | None) -> bytes:
    """A chunk as TGI 1.4.3 streamed it (huggingface/text-generation-inference#1648: `index` counted the chunks)."""
    body: dict[str, Any] = {
        "id": "",
        "object": "text_completion",
        "created": 1710508199,
        "model": "HuggingFaceH4/zephyr-7b-beta",
        "system_fingerprint": "1.4.3-sha-e6bb3ff",
        "choices": [] if choice is None else [choice],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


def numbered(index: int | None, content: str, finish: str | None = None) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": index, "delta": {"role": "assistant", "content": content}, "logprobs": None}
    choice["finish_reason"] = finish
    if index is None:
        del choice["index"]  # (a server that leaves it out)
    return choice


STREAMS = {
    "counted": [numbered(1, "I"), numbered(2, "'"), numbered(3, "m", "length")],
    "left out": [numbered(None, "I"), numbered(None, "'"), numbered(None, "m", "length")],
}


@pytest.mark.parametrize("chunks", STREAMS.values(), ids=STREAMS.keys())
async def test_the_only_choice_of_each_chunk_is_the_answer_whatever_its_index(chunks: list[dict[str, Any]]) -> None:
    """A chunk's choice numbered 1, 2, 3… (TGI 1.4.3; Foundry Local) or without `index` was skipped as another
    choice than the answer's: every streamed call to such a server failed with "the chat completion stream ended
    without a finish reason", and its text was never shown."""
    content = b"".join(event(c) for c in chunks) + b"data: [DONE]\n\n"
    server = MockServer(Reply(200, headers={"content-type": "text/event-stream"}, content=content))
    provider = TGIProvider(
        base_url="http://localhost:8080/v1", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    shown: list[str] = []

    async def on_text(text: str) -> None:
        shown.append(text)

    request = GenerationRequest(model=MODEL, messages=[Message(role="user", content="hi")], max_output_tokens=3)
    generation = await provider.generate_stream(request, on_text)
    assert (generation.text, generation.finish_reason, shown) == ("I'm", "length", ["I", "'", "m"])


async def test_of_several_choices_only_index_0_is_the_answer() -> None:
    both = [
        {"index": 1, "delta": {"content": "other"}, "logprobs": None, "finish_reason": None},
        {"index": 0, "delta": {"content": "answer"}, "logprobs": None, "finish_reason": None},
    ]
    body = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": both}
    content = f"data: {json.dumps(body)}\n\n".encode() + event(numbered(0, "", "stop")) + b"data: [DONE]\n\n"
    server = MockServer(Reply(200, headers={"content-type": "text/event-stream"}, content=content))
    provider = TGIProvider(
        base_url="http://localhost:8080/v1", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )

    async def on_text(text: str) -> None:
        return None

    request = GenerationRequest(model=MODEL, messages=[Message(role="user", content="hi")], max_output_tokens=3)
    assert (await provider.generate_stream(request, on_text)).text == "answer"
