"""Reasoning tokens a compatible server reports apart from `completion_tokens`, as xAI's Grok does.

OpenAI counts reasoning inside `completion_tokens` (`total_tokens` = prompt + completion). xAI reports
`completion_tokens` as the visible answer only and bills `completion_tokens_details.reasoning_tokens` as output too,
counting them in `total_tokens` (prompt + completion + reasoning): the adapter priced the visible answer alone, so a
Grok reasoning call was counted at a fraction of its bill (the budget saw $0.0163 of a $0.0233 call).
"""

from __future__ import annotations

import json
from typing import Any

import httpx2

from orchestratex import BayesianRouter, FunctionProvider, GenerationRequest, Message, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex_openai import OpenAIProvider

GROK = ModelProfile(
    name="xai:grok-4.20",
    input_cost_per_1k=0.00125,
    cached_input_cost_per_1k=0.0002,
    output_cost_per_1k=0.0025,
    quality=9,
)
JUDGE = ModelProfile(name="function:judge", cost_per_1k_tokens=0, quality=5)
XAI_USAGE = {  # as xAI answers: 10120 prompt + 1499 completion + 2809 reasoning = 14428 total
    "prompt_tokens": 10120,
    "completion_tokens": 1499,
    "total_tokens": 14428,
    "prompt_tokens_details": {"cached_tokens": 128, "text_tokens": 10120, "audio_tokens": 0, "image_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 2809, "audio_tokens": 0},
    "num_sources_used": 0,
}
XAI_COST = (10120 - 128) * 0.00125 / 1000 + 128 * 0.0002 / 1000 + (1499 + 2809) * 0.0025 / 1000  # what xAI bills


def completion(usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "3b3f7e3c-9b1a-4c8e-9d55-3f1e4c2b7a10",
        "object": "chat.completion",
        "created": 1752854522,
        "model": "grok-4.20",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "42."}, "finish_reason": "stop"}],
        "usage": usage,
        "system_fingerprint": "fp_3a7881249c",
    }


def stream(usage: dict[str, Any]) -> bytes:
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "grok-4.20"}
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "42."}, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**base, "choices": [], "usage": usage},
    ]
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


def xai(usage: dict[str, Any]) -> httpx2.AsyncClient:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if json.loads(request.content).get("stream"):
            return httpx2.Response(200, content=stream(usage), headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=completion(usage))

    return httpx2.AsyncClient(transport=httpx2.MockTransport(handler))


class XAIProvider(OpenAIProvider):
    name = "xai"


def ask() -> GenerationRequest:
    return GenerationRequest(model=GROK, messages=[Message(role="user", content="6 x 7?")], max_output_tokens=8000)


async def test_reasoning_reported_apart_is_counted_as_output() -> None:
    provider = XAIProvider(api_key="xai-test", base_url="https://api.x.ai/v1", http_client=xai(XAI_USAGE))
    generation = await provider.generate(ask())
    assert generation.usage.output_tokens == 1499 + 2809 and generation.usage.reasoning_tokens == 2809
    assert generation.usage.input_tokens == 10120 and generation.usage.cached_input_tokens == 128
    assert abs(generation.cost - XAI_COST) < 1e-12


async def test_and_so_is_a_streamed_answer_s() -> None:
    provider = XAIProvider(api_key="xai-test", base_url="https://api.x.ai/v1", http_client=xai(XAI_USAGE))

    async def ignore(text: str) -> None:
        return None

    generation = await provider.generate_stream(ask(), ignore)
    assert generation.usage.output_tokens == 4308 and abs(generation.cost - XAI_COST) < 1e-12


async def test_openai_s_own_usage_is_read_as_before() -> None:
    """OpenAI: reasoning inside `completion_tokens`, `total_tokens` = prompt + completion."""
    usage = {
        "prompt_tokens": 120,
        "completion_tokens": 900,
        "total_tokens": 1020,
        "completion_tokens_details": {"reasoning_tokens": 850},
    }
    provider = XAIProvider(api_key="xai-test", base_url="https://api.x.ai/v1", http_client=xai(usage))
    generation = await provider.generate(ask())
    assert (generation.usage.output_tokens, generation.usage.reasoning_tokens) == (900, 850)


def test_a_run_counts_what_xai_bills() -> None:
    usage = {  # xAI's own example: 12 prompt + 1 completion + 386 reasoning = 399 total
        "prompt_tokens": 12,
        "completion_tokens": 1,
        "total_tokens": 399,
        "completion_tokens_details": {"reasoning_tokens": 386},
    }
    billed = 12 * 0.00125 / 1000 + (1 + 386) * 0.0025 / 1000
    provider = XAIProvider(api_key="xai-test", base_url="https://api.x.ai/v1", http_client=xai(usage))
    judge = FunctionProvider(lambda request: '{"score": 9, "feedback": "right"}', name="function")
    with Orchestrator(
        catalog=ModelCatalog([GROK, JUDGE]), providers=[provider, judge], router=BayesianRouter(explore=False)
    ) as orchestrator:
        result = orchestrator.run_sync("6 x 7?", preferred_models=[GROK.name], max_iterations=1, max_output_tokens=800)
    assert result.status == "completed", result.error
    assert abs(result.total_cost - billed) < 1e-9, (result.total_cost, billed)  # the judge is free
