"""Prompt-cache writes counted at what OpenAI bills for them. From the GPT-5.6 family on, OpenAI bills a token written
to its prompt cache (which it fills by itself, for any prompt of 1,024 tokens or more) at 1.25 times the input price and
reports them as `cache_write_tokens` (`prompt_tokens_details`; Responses: `input_tokens_details`). They were counted at
the plain input price: the first call of a long prompt, which writes most of it, was short of its bill by a quarter of
the input price per written token. Earlier models write to the cache at no extra cost."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex.catalog import ModelProfile
from orchestratex.testing.runs import judged_run
from orchestratex_openai import OpenAIProvider

# GPT-6.2 Sol's list prices: $2 / MTok in, $0.10 / MTok read from the cache, $10 / MTok out
SOL = ModelProfile(
    name="openai:gpt-6.2-sol", input_cost_per_1k=0.002, cached_input_cost_per_1k=0.0001, output_cost_per_1k=0.01
)
# GPT-4.1's: $2 / $0.50 / $8; it writes to the cache at no extra cost
GPT_4_1 = ModelProfile(
    name="openai:gpt-4.1", input_cost_per_1k=0.002, cached_input_cost_per_1k=0.0005, output_cost_per_1k=0.008
)
# 2,000 prompt tokens: 1,200 written to the cache, 500 read from it, 300 neither; 40 out
CHAT_USAGE = {
    "prompt_tokens": 2000,
    "completion_tokens": 40,
    "total_tokens": 2040,
    "prompt_tokens_details": {"cached_tokens": 500, "cache_write_tokens": 1200},
    "completion_tokens_details": {"reasoning_tokens": 0},
}
RESPONSE_USAGE = {
    "input_tokens": 2000,
    "input_tokens_details": {"cached_tokens": 500, "cache_write_tokens": 1200},
    "output_tokens": 40,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 2040,
}
SOL_BILL = 0.00405  # 300 x $2 + 1,200 x $2.50 + 500 x $0.10 + 40 x $10 (per MTok)
GPT_4_1_BILL = 0.00357  # 1,500 x $2 + 500 x $0.50 + 40 x $8


def chat(body: dict[str, Any]) -> httpx2.Response:
    base = {"id": "chatcmpl-1", "created": 1765000000, "model": body["model"]}
    if not body.get("stream"):
        message = {"role": "assistant", "content": "Paris."}
        choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
        return httpx2.Response(
            200, json={**base, "object": "chat.completion", "choices": [choice], "usage": CHAT_USAGE}
        )
    chunk = {**base, "object": "chat.completion.chunk"}
    chunks = [
        {
            **chunk,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Paris."}, "finish_reason": None}],
        },
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**chunk, "choices": [], "usage": CHAT_USAGE},
    ]
    data = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"
    return httpx2.Response(200, content=data, headers={"content-type": "text/event-stream"})


def response(body: dict[str, Any]) -> httpx2.Response:
    text = {"type": "output_text", "text": "Paris.", "annotations": []}
    message = {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": [text]}
    return httpx2.Response(
        200,
        json={
            "id": "resp_1",
            "object": "response",
            "created_at": 1765000000,
            "status": "completed",
            "model": body["model"],
            "output": [message],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": RESPONSE_USAGE,
        },
    )


def openai(api: str) -> OpenAIProvider:
    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        return response(body) if request.url.path.endswith("/responses") else chat(body)

    client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return OpenAIProvider(api_key="sk-test", http_client=client, api=api)  # type: ignore[arg-type]


async def run(model: ModelProfile, api: str, *, streamed: bool) -> tuple[float, float, float]:
    question = "Read this long shared context. " * 70 + "What is the capital of France?"  # (2,000 tokens at most)
    return await judged_run(openai(api), model, question, streamed=streamed)


@pytest.mark.parametrize(
    ("api", "streamed"),
    [("chat", False), ("chat", True), ("responses", False)],
    ids=["chat", "chat-streamed", "responses"],
)
async def test_a_run_counts_cache_writes_at_what_openai_bills(api: str, streamed: bool) -> None:
    total, spent, reserved = await run(SOL, api, streamed=streamed)
    assert (total, spent, reserved) == (SOL_BILL, SOL_BILL, 0.0)


async def test_a_model_before_gpt_5_6_writes_at_the_input_price() -> None:
    total, spent, reserved = await run(GPT_4_1, "chat", streamed=False)
    assert (total, spent, reserved) == (GPT_4_1_BILL, GPT_4_1_BILL, 0.0)
