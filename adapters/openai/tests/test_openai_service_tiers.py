"""Calls counted at the prices of the service tier OpenAI served them at. An answer says which (`service_tier`), and a
project can set `priority` (billed at about twice the default prices) or `flex` (half) as the default for every call,
which the adapter, sending no `service_tier`, cannot see. Every call was counted at the default prices: a priority
project's runs at half their bill, their budgets spent twice over; a flex project's at twice theirs."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex.catalog import ModelProfile
from orchestratex.testing.runs import judged_run
from orchestratex_openai import OpenAIProvider

# GPT-5's list prices: $1.25 / MTok in, $0.125 / MTok read from the cache, $10 / MTok out; at priority $2.50, $0.25
# and $20; at flex $0.625, $0.0625 and $5
GPT_5 = ModelProfile(
    name="openai:gpt-5", input_cost_per_1k=0.00125, cached_input_cost_per_1k=0.000125, output_cost_per_1k=0.01
)
# 1,000 prompt tokens, 200 of them read from the cache; 100 out
BILLS = {
    "default": 0.002025,  # 800 x $1.25 + 200 x $0.125 + 100 x $10 (per MTok)
    "priority": 0.00405,  # 800 x $2.50 + 200 x $0.25 + 100 x $20
    "flex": 0.0010125,  # 800 x $0.625 + 200 x $0.0625 + 100 x $5
}


def openai(tier: str, api: str) -> OpenAIProvider:
    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        assert "service_tier" not in body  # (the project's default tier serves it)
        if request.url.path.endswith("/responses"):
            return response(body, tier)
        return chat(body, tier)

    client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return OpenAIProvider(api_key="sk-test", http_client=client, api=api)  # type: ignore[arg-type]


def chat(body: dict[str, Any], tier: str) -> httpx2.Response:
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 100,
        "total_tokens": 1100,
        "prompt_tokens_details": {"cached_tokens": 200},
        "completion_tokens_details": {"reasoning_tokens": 64},
    }
    base = {"id": "chatcmpl-1", "created": 1765000000, "model": "gpt-5-2025-08-07", "service_tier": tier}
    if not body.get("stream"):
        message = {"role": "assistant", "content": "Paris."}
        choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
        return httpx2.Response(200, json={**base, "object": "chat.completion", "choices": [choice], "usage": usage})
    chunk = {**base, "object": "chat.completion.chunk"}
    chunks = [
        {
            **chunk,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Paris."}, "finish_reason": None}],
        },
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**chunk, "choices": [], "usage": usage},
    ]
    data = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"
    return httpx2.Response(200, content=data, headers={"content-type": "text/event-stream"})


def response(body: dict[str, Any], tier: str) -> httpx2.Response:
    text = {"type": "output_text", "text": "Paris.", "annotations": []}
    message = {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": [text]}
    usage = {
        "input_tokens": 1000,
        "input_tokens_details": {"cached_tokens": 200, "cache_write_tokens": 0},
        "output_tokens": 100,
        "output_tokens_details": {"reasoning_tokens": 64},
        "total_tokens": 1100,
    }
    return httpx2.Response(
        200,
        json={
            "id": "resp_1",
            "object": "response",
            "created_at": 1765000000,
            "status": "completed",
            "model": "gpt-5-2025-08-07",
            "service_tier": tier,
            "output": [message],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": usage,
        },
    )


async def run(tier: str, api: str, *, streamed: bool, model: ModelProfile = GPT_5) -> tuple[float, float, float]:
    question = "Read this long shared context. " * 35 + "What is the capital of France?"  # (1,000 tokens at most)
    return await judged_run(openai(tier, api), model, question, streamed=streamed)


# GPT-6.2 Sol, which the price source does not list (the shipped catalog prices it): $2 / $0.10 / $10 per MTok, twice
# that at priority and half at flex, as the source lists them for every model of the GPT-5.6 family on
SOL = ModelProfile(
    name="openai:gpt-6.2-sol", input_cost_per_1k=0.002, cached_input_cost_per_1k=0.0001, output_cost_per_1k=0.01
)
SOL_BILLS = {
    "default": 0.00262,  # 800 x $2 + 200 x $0.10 + 100 x $10 (per MTok)
    "priority": 0.00524,  # 800 x $4 + 200 x $0.20 + 100 x $20
    "flex": 0.00131,  # 800 x $1 + 200 x $0.05 + 100 x $5
}


@pytest.mark.parametrize("tier", ["priority", "flex", "default"])
@pytest.mark.parametrize(
    ("api", "streamed"),
    [("chat", False), ("chat", True), ("responses", False)],
    ids=["chat", "chat-streamed", "responses"],
)
async def test_a_run_counts_the_service_tier_openai_billed(tier: str, api: str, streamed: bool) -> None:
    total, spent, reserved = await run(tier, api, streamed=streamed)
    assert (total, spent, reserved) == (BILLS[tier], BILLS[tier], 0.0)


@pytest.mark.parametrize("tier", ["priority", "flex", "default"])
async def test_a_model_of_gpt_5_6_on_the_source_does_not_list_is_counted_at_its_tier_too(tier: str) -> None:
    total, spent, reserved = await run(tier, "chat", streamed=False, model=SOL)
    assert (total, spent, reserved) == (SOL_BILLS[tier], SOL_BILLS[tier], 0.0)
