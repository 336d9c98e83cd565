"""xAI's own figure of what a call cost: every xAI answer carries `usage.cost_in_usd_ticks` (1 USD = 10^10 ticks), the
amount billed after its prompt-cache discount and with its long-context prices and server-side tools. The adapter read
only OpenRouter's `usage.cost`, so a Grok call was counted at the catalog's prices of its tokens: here, a catalog entry
without a cached-input price counted the 800 cached prompt tokens at the full input price, $0.0045 for a $0.0027
bill."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex import AnswerDelta, BayesianRouter, FunctionProvider, MemoryStore, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex_openai import OpenAIProvider

GROK = ModelProfile(name="xai:grok-4", input_cost_per_1k=0.003, output_cost_per_1k=0.015, quality=9)
JUDGE = ModelProfile(name="function:judge", cost_per_1k_tokens=0, quality=5)
USAGE = {  # 200 x $3 + 800 cached x $0.75 + 100 x $15 (per MTok) = $0.0027, as xAI bills it
    "prompt_tokens": 1000,
    "completion_tokens": 100,
    "total_tokens": 1100,
    "prompt_tokens_details": {"cached_tokens": 800, "text_tokens": 1000},
    "completion_tokens_details": {"reasoning_tokens": 0},
    "num_sources_used": 0,
    "cost_in_usd_ticks": 27_000_000,
}


class XAIProvider(OpenAIProvider):
    name = "xai"


def grok(body: dict[str, Any]) -> httpx2.Response:
    base = {"id": "b3f1", "created": 1765000000, "model": "grok-4-0709", "system_fingerprint": "fp_3a7881249c"}
    if not body.get("stream"):
        message = {"role": "assistant", "content": "Paris."}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return httpx2.Response(200, json={**base, "object": "chat.completion", "choices": [choice], "usage": USAGE})
    chunk = {**base, "object": "chat.completion.chunk"}
    chunks = [
        {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Paris."}}]},
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": USAGE},
    ]
    data = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"
    return httpx2.Response(200, content=data, headers={"content-type": "text/event-stream"})


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
async def test_a_run_counts_what_xai_says_it_billed(streamed: bool) -> None:
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(lambda r: grok(json.loads(r.content))))
    provider = XAIProvider(api_key="xai-test", base_url="https://api.x.ai/v1", http_client=client)
    store = MemoryStore()
    judge = FunctionProvider(lambda r: '{"score": 9, "feedback": "right"}', name="function")
    async with Orchestrator(
        catalog=ModelCatalog([GROK, JUDGE]),
        providers=[provider, judge],
        router=BayesianRouter(explore=False),
        judges=[JUDGE.name],
        store=store,
    ) as orchestrator:
        question = "Read this long shared context. " * 35 + "What is the capital of France?"  # (1,000 tokens at most)
        if streamed:
            async with orchestrator.run_stream(question, max_iterations=1, cost_limit=1.0) as stream:
                pieces = [item.text async for item in stream if isinstance(item, AnswerDelta)]
            assert pieces == ["Paris."] and stream.result is not None
            result = stream.result
        else:
            result = await orchestrator.run(question, max_iterations=1, cost_limit=1.0)
    assert result.status == "completed", result.orchestration.iterations
    [iteration] = result.orchestration.iterations
    assert (iteration.cost, result.total_cost, result.overage_cost) == (0.0027, 0.0027, 0.0)
    session = await store.get_session(result.orchestration.session_id)
    assert (session.total_cost, session.reserved_cost) == (0.0027, 0.0)
