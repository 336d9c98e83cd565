"""DeepSeek's cache hits: `prompt_cache_hit_tokens` (with `prompt_cache_miss_tokens`), not OpenAI's
`prompt_tokens_details.cached_tokens`; Moonshot's Kimi's (Zhipu's GLM's, MiniMax's): `usage.cached_tokens`.

DeepSeek bills the input tokens its context cache served at its cache-hit price (a tenth of the miss price). The
adapter read cached tokens only from OpenAI's field, so every DeepSeek prompt was counted at the full input price: a
call whose prompt was all but cached was counted at up to ten times its bill, and the budget ran out that much sooner.
"""

from __future__ import annotations

import json
import logging

import httpx2
import pytest

from orchestratex import BayesianRouter, FunctionProvider, GenerationRequest, Message, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

DEEPSEEK = ModelProfile(  # DeepSeek's list prices: $0.28 (miss) / $0.028 (hit) / $0.42 per 1M tokens
    name="deepseek:deepseek-chat",
    input_cost_per_1k=0.00028,
    cached_input_cost_per_1k=0.000028,
    output_cost_per_1k=0.00042,
    quality=9,
)
JUDGE = ModelProfile(name="function:judge", cost_per_1k_tokens=0, quality=5)
USAGE = {  # as DeepSeek answers a second request whose long prefix was cached
    "prompt_tokens": 10000,
    "completion_tokens": 200,
    "total_tokens": 10200,
    "prompt_cache_hit_tokens": 9600,
    "prompt_cache_miss_tokens": 400,
}
BILLED = 400 * 0.00028 / 1000 + 9600 * 0.000028 / 1000 + 200 * 0.00042 / 1000


def answer(streamed: bool) -> httpx2.Response:
    base = {"id": "930c60df", "created": 1705651092, "model": "deepseek-chat", "system_fingerprint": "fp_7e0991cad4"}
    if not streamed:
        message = {"role": "assistant", "content": "Beijing."}
        choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
        return httpx2.Response(200, json={**base, "object": "chat.completion", "choices": [choice], "usage": USAGE})
    chunk = {**base, "object": "chat.completion.chunk"}
    chunks = [
        {
            **chunk,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Beijing."}, "finish_reason": None}],
        },
        {**chunk, "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}], "usage": USAGE},
    ]
    body = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"
    return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})


class DeepSeekProvider(OpenAIProvider):
    name = "deepseek"


def provider() -> DeepSeekProvider:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return answer(bool(json.loads(request.content).get("stream")))

    client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return DeepSeekProvider(api_key="sk-test", base_url="https://api.deepseek.com", http_client=client)


def ask() -> GenerationRequest:
    return GenerationRequest(model=DEEPSEEK, messages=[Message(role="user", content="Capital of China?")])


async def test_cache_hits_are_the_cached_input_tokens() -> None:
    generation = await provider().generate(ask())
    assert generation.usage == Usage(input_tokens=10000, output_tokens=200, cached_input_tokens=9600)
    assert abs(generation.cost - BILLED) < 1e-12


async def test_and_so_in_a_stream() -> None:
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    generation = await provider().generate_stream(ask(), on_text)
    assert pieces == ["Beijing."] and generation.usage.cached_input_tokens == 9600


def test_a_run_counts_what_deepseek_bills() -> None:
    judge = FunctionProvider(lambda request: '{"score": 9, "feedback": "right"}', name="function")
    with Orchestrator(
        catalog=ModelCatalog([DEEPSEEK, JUDGE]), providers=[provider(), judge], router=BayesianRouter(explore=False)
    ) as orchestrator:
        result = orchestrator.run_sync("Capital of China?", preferred_models=[DEEPSEEK.name], max_iterations=1)
    assert result.status == "completed", result.error
    assert abs(result.total_cost - BILLED) < 1e-9, (result.total_cost, BILLED)  # the judge is free


async def test_cache_hits_at_the_top_level_of_usage_are_the_cached_input_tokens() -> None:
    """Moonshot's Kimi (and Zhipu's GLM, MiniMax) report their cache hits as `usage.cached_tokens`: every such prompt
    was counted at the full input price."""
    kimi = ModelProfile(
        name="moonshot:kimi-k2.6", input_cost_per_1k=0.0006, cached_input_cost_per_1k=0.00015, output_cost_per_1k=0.0025
    )
    usage = {"prompt_tokens": 10000, "completion_tokens": 200, "total_tokens": 10200, "cached_tokens": 9600}
    message = {"role": "assistant", "content": "Beijing."}
    body = {
        "id": "chatcmpl-6810567267ee141b4630dccb",
        "object": "chat.completion",
        "created": 1745901170,
        "model": "kimi-k2.6",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": usage,
    }
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(lambda request: httpx2.Response(200, json=body)))
    moonshot = OpenAIProvider(api_key="sk-test", base_url="https://api.moonshot.ai/v1", http_client=client)
    request = GenerationRequest(model=kimi, messages=[Message(role="user", content="Capital of China?")])
    generation = await moonshot.generate(request)
    assert generation.usage == Usage(input_tokens=10000, output_tokens=200, cached_input_tokens=9600)
    assert abs(generation.cost - (400 * 0.0006 + 9600 * 0.00015 + 200 * 0.0025) / 1000) < 1e-12


def test_cache_hits_reported_above_the_prompt_are_not_billed_past_it(caplog: pytest.LogCaptureFixture) -> None:
    """A server reporting more cached tokens than the prompt held (`prompt_tokens` counts them, OpenAI's way): the run
    counted the excess as more input read from the cache, at the cache-hit price, with a warning that the provider
    should count cached tokens in its input."""
    usage = {"prompt_tokens": 10000, "completion_tokens": 200, "total_tokens": 10200, "cached_tokens": 12000}
    message = {"role": "assistant", "content": "Beijing."}
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1745901170,
        "model": "deepseek-chat",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": usage,
    }
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(lambda request: httpx2.Response(200, json=body)))
    deepseek = DeepSeekProvider(api_key="sk-test", base_url="https://api.deepseek.com", http_client=client)
    judge = FunctionProvider(lambda request: '{"score": 9, "feedback": "right"}', name="function")
    with Orchestrator(
        catalog=ModelCatalog([DEEPSEEK, JUDGE]), providers=[deepseek, judge], router=BayesianRouter(explore=False)
    ) as orchestrator:
        result = orchestrator.run_sync("Capital of China?", preferred_models=[DEEPSEEK.name], max_iterations=1)
    assert result.status == "completed", result.error
    billed = 10000 * 0.000028 / 1000 + 200 * 0.00042 / 1000  # (every prompt token a cache hit, none more)
    assert abs(result.total_cost - billed) < 1e-9, (result.total_cost, billed)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
