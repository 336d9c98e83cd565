"""An answer withheld by a content filter is billed as any answer, and counted at what was billed: OpenRouter's
`usage.cost`, the service tier OpenAI served it at. It was counted at the catalog's prices of its usage whatever the
server said it cost (an answer it let through was counted at that cost): a priority project's withheld answers at half
their bill."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex import BayesianRouter, FunctionProvider, MemoryStore, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex_openai import OpenAIProvider

from .test_openai_service_tiers import GPT_5

GPT_5_FIRST = GPT_5.model_copy(update={"quality": 9.0})  # (routed to before the free backup)
BACKUP = ModelProfile(name="function:backup", cost_per_1k_tokens=0, quality=1)
JUDGE = ModelProfile(name="function:judge", cost_per_1k_tokens=0, quality=5)
USAGE: dict[str, Any] = {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}


def filtering(usage: dict[str, Any], tier: str) -> httpx2.MockTransport:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/responses"):  # (an answer cut by the content filter, as the Responses API says)
            return httpx2.Response(
                200,
                json={
                    "id": "resp_1",
                    "object": "response",
                    "created_at": 1765000000,
                    "status": "incomplete",
                    "incomplete_details": {"reason": "content_filter"},
                    "model": "gpt-5",
                    "service_tier": tier,
                    "output": [],
                    "parallel_tool_calls": True,
                    "tool_choice": "auto",
                    "tools": [],
                    "usage": {
                        "input_tokens": usage["prompt_tokens"],
                        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                        "output_tokens": usage["completion_tokens"],
                        "output_tokens_details": {"reasoning_tokens": 0},
                        "total_tokens": usage["total_tokens"],
                        **({"cost": usage["cost"]} if "cost" in usage else {}),
                    },
                },
            )
        base = {"id": "chatcmpl-1", "created": 1765000000, "model": "gpt-5", "service_tier": tier}
        if not json.loads(request.content).get("stream"):
            message = {"role": "assistant", "content": ""}
            choice = {"index": 0, "message": message, "finish_reason": "content_filter", "logprobs": None}
            return httpx2.Response(200, json={**base, "object": "chat.completion", "choices": [choice], "usage": usage})
        chunk = {**base, "object": "chat.completion.chunk"}
        chunks = [
            {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": "content_filter"}]},
            {**chunk, "choices": [], "usage": usage},
        ]
        data = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"
        return httpx2.Response(200, content=data, headers={"content-type": "text/event-stream"})

    return httpx2.MockTransport(handler)


@pytest.mark.parametrize(
    ("usage", "tier", "billed"),
    [
        pytest.param({**USAGE, "cost": 0.0042}, "default", 0.0042, id="openrouter-cost"),
        pytest.param(USAGE, "priority", 0.0045, id="priority"),  # 1,000 x $2.50 + 100 x $20 (per MTok)
        pytest.param(USAGE, "default", 0.00225, id="default"),  # 1,000 x $1.25 + 100 x $10
    ],
)
@pytest.mark.parametrize(
    ("api", "streamed"), [("chat", False), ("chat", True), ("responses", False)], ids=["whole", "streamed", "responses"]
)
async def test_a_withheld_answer_is_counted_at_its_bill(
    usage: dict[str, Any], tier: str, billed: float, api: str, streamed: bool
) -> None:
    client = httpx2.AsyncClient(transport=filtering(usage, tier))
    store = MemoryStore()

    def function(request: object) -> str:
        return '{"score": 9, "feedback": "ok"}' if getattr(request, "purpose", "") == "judge" else "Paris."

    async with Orchestrator(
        catalog=ModelCatalog([GPT_5_FIRST, BACKUP, JUDGE]),
        providers=[OpenAIProvider(api_key="sk-test", http_client=client, api=api), FunctionProvider(function)],  # type: ignore[arg-type]
        router=BayesianRouter(explore=False),
        judges=[JUDGE.name],
        store=store,
    ) as orchestrator:
        question = "Read this long shared context. " * 35 + "What is the capital of France?"  # (1,000 tokens at most)
        if streamed:
            async with orchestrator.run_stream(question, max_iterations=1, cost_limit=1.0) as stream:
                async for _ in stream:
                    pass
            assert stream.result is not None
            result = stream.result
        else:
            result = await orchestrator.run(question, max_iterations=1, cost_limit=1.0)
    assert result.status == "completed" and result.final_model == BACKUP.name, result.orchestration.iterations
    assert any("ContentFiltered" in e for e in result.orchestration.iterations[0].errors)
    assert (result.total_cost, result.overage_cost) == (billed, 0.0)  # (the backup and the judge are free)
    session = await store.get_session(result.orchestration.session_id)
    assert (session.total_cost, session.reserved_cost) == (billed, 0.0)
