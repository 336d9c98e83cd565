"""A refusal is billed as any answer, US-only inference's 1.1 times included: the refusal of a workspace set to US-only
inference was counted at the list prices of its usage (the run's answers were counted at 1.1 times them), a tenth short
of its bill."""

from __future__ import annotations

import json

import httpx2

from orchestratex import BayesianRouter, FunctionProvider, MemoryStore, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex_anthropic import AnthropicProvider

from .test_anthropic_cache_writes import JUDGE, SONNET

BACKUP = ModelProfile(name="function:backup", input_cost_per_1k=0.0, output_cost_per_1k=0.0, quality=1)


def refusing(request: httpx2.Request) -> httpx2.Response:
    message = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": json.loads(request.content)["model"],
        "content": [],
        "stop_reason": "refusal",
        "stop_sequence": None,
        "usage": {"input_tokens": 1000, "output_tokens": 5, "inference_geo": "us"},
    }
    return httpx2.Response(200, json=message)


async def test_a_refusal_of_a_us_only_workspace_is_counted_at_its_bill() -> None:
    claude = AnthropicProvider(api_key="k", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(refusing)))
    store = MemoryStore()

    def function(request: object) -> str:
        return '{"score": 9, "feedback": "ok"}' if getattr(request, "purpose", "") == "judge" else "Paris."

    async with Orchestrator(
        providers=[claude, FunctionProvider(function)],
        catalog=ModelCatalog([SONNET, BACKUP, JUDGE]),
        router=BayesianRouter(explore=False),
        judges=[JUDGE.name],
        store=store,
    ) as orchestrator:
        result = await orchestrator.run("What is the capital of France?", max_iterations=1, cost_limit=1.0)
    assert result.status == "completed" and result.final_model == BACKUP.name, result.orchestration.iterations
    billed = 0.0033825  # (1,000 x $3 + 5 x $15 per MTok) x 1.1; the backup and the judge are free
    assert (result.total_cost, result.overage_cost) == (billed, 0.0)
    session = await store.get_session(result.orchestration.session_id)
    assert (session.total_cost, session.reserved_cost) == (billed, 0.0)
