"""Mistral's API (`OPENAI_BASE_URL=https://api.mistral.ai/v1`) ends an answer cut at the model's context window with
`finish_reason: "model_length"` (its documented `FinishReason`: `stop`, `length`, `model_length`, `error`,
`tool_calls`). It was passed on as `model_length`: not `length`, so the cut answer counted as whole — `/v1` answered it
`"stop"`, an empty one charged the model's circuit as a failure rather than the cap's — where Anthropic's
`model_context_window_exceeded` is `length`. It is now `length`, streamed or not."""

from __future__ import annotations

import httpx2

from orchestratex.catalog import ModelProfile
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

from .test_openai_contract import chat_completion
from .test_openai_streaming import chunk

MODEL = ModelProfile(name="openai:mistral-small-latest", input_cost_per_1k=0.0001, output_cost_per_1k=0.0003)


def _provider(server: MockServer) -> OpenAIProvider:
    client = httpx2.AsyncClient(transport=server.httpx2_transport())
    return OpenAIProvider(api_key="test", base_url="https://api.mistral.ai/v1", http_client=client)


def _request() -> GenerationRequest:
    return GenerationRequest(model=MODEL, messages=[Message(role="user", content="Summarise…")], max_output_tokens=512)


async def test_an_answer_cut_at_the_context_window_ends_with_length() -> None:
    usage = Usage(input_tokens=31_900, output_tokens=100)
    body = chat_completion(usage, text="The report says", finish="model_length", model="mistral-small-latest")
    generation = await _provider(MockServer(Reply(200, json=body))).generate(_request())
    assert (generation.text, generation.finish_reason) == ("The report says", "length")


async def test_a_stream_cut_at_the_context_window_ends_with_length() -> None:
    events = [
        chunk({"role": "assistant", "content": "The report"}),
        chunk({"content": " says"}, finish="model_length"),
        chunk({}, usage=Usage(input_tokens=31_900, output_tokens=100)),
        b"data: [DONE]\n\n",
    ]
    server = MockServer(Reply(200, content=b"".join(events), headers={"content-type": "text/event-stream"}))
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    generation = await _provider(server).generate_stream(_request(), on_text)
    assert "".join(pieces) == generation.text == "The report says" and generation.finish_reason == "length"
