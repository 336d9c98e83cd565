"""US-only inference counted at what Anthropic bills for it. A call whose inference ran in the US only
(`usage.inference_geo: "us"`: asked for with `inference_geo`, or the workspace's default, which the adapter cannot see)
is billed 1.1 times every rate on Claude Opus 4.6 and later models. It was counted at the list prices: every call of a
workspace set to US-only inference was short of its bill by a tenth."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex import MemoryStore
from orchestratex.testing.runs import judged_orchestrator
from orchestratex_anthropic import AnthropicProvider

from .test_anthropic_cache_writes import SONNET, _run


@pytest.mark.parametrize(
    ("usage", "billed"),
    [
        pytest.param(  # (1,000 x $3 + 200 x $15 per MTok) x 1.1
            {"input_tokens": 1000, "output_tokens": 200, "inference_geo": "us"}, 0.0066, id="us"
        ),
        pytest.param(  # (50 x $3 + 1,000 x $3.75 + 20 x $15) x 1.1: a 5-minute cache write, at 1.1 times its price too
            {"input_tokens": 50, "cache_creation_input_tokens": 1000, "output_tokens": 20, "inference_geo": "us"},
            0.00462,
            id="us-with-cache-write",
        ),
        pytest.param(  # 1,000 x $3 + 200 x $15: the list prices
            {"input_tokens": 1000, "output_tokens": 200, "inference_geo": "global"}, 0.006, id="global"
        ),
    ],
)
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
async def test_a_run_counts_us_only_inference_at_what_anthropic_bills(
    usage: dict[str, Any], billed: float, streamed: bool
) -> None:
    total, spent, reserved = await _run(usage, streamed=streamed)
    assert (total, spent, reserved) == (billed, billed, 0.0)


async def test_after_its_first_us_only_bill_a_model_is_reserved_at_it_and_kept() -> None:
    # a workspace whose default is US-only inference: each answer writes 95% of its cap, billed 1.1 times the list
    # prices, more than the list-price worst case reserved for it; the first time only
    def answer(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        usage = {"input_tokens": 20, "output_tokens": body["max_tokens"] * 19 // 20, "inference_geo": "us"}
        message = {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": "A long answer."}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        return httpx2.Response(200, json=message)

    provider = AnthropicProvider(api_key="k", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(answer)))
    store = MemoryStore()
    verdict = '{"score": 5, "feedback": "say more"}'
    async with judged_orchestrator(
        provider, SONNET, verdict=verdict, store=store, max_output_tokens=1000
    ) as orchestrator:
        first = await orchestrator.run("Explain TCP slow start", max_iterations=3, cost_limit=1.0)
        second = await orchestrator.run("Explain TCP congestion avoidance", max_iterations=3, cost_limit=1.0)
    bill = 0.015741  # (20 x $3 + 950 x $15 per MTok) x 1.1
    [overrun], *rest = (it.errors for it in first.orchestration.iterations)
    assert overrun.endswith(
        ": billed 1.1 times the catalog price of its usage, which its next calls reserve (kept in the run)"
    )
    assert rest == [[], []] and first.total_cost == 3 * bill
    assert [(it.cost, it.errors) for it in second.orchestration.iterations] == [(bill, [])] * 3
    assert second.overage_cost == 0.0
