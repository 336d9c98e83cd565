"""Prompt-cache writes counted at what Anthropic bills for them: 1.25 times the input price for the 5-minute cache
(`cache_creation.ephemeral_5m_input_tokens`, or `cache_creation_input_tokens` without that breakdown), 2 times for
the 1-hour cache (`ephemeral_1h_input_tokens`). They were counted at the plain input price: a run whose calls wrote to
the cache was short of its bill by a quarter (5-minute) or the whole (1-hour) input price per written token."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex.catalog import ModelProfile
from orchestratex.testing.runs import FREE_JUDGE, judged_run
from orchestratex_anthropic import AnthropicProvider

# Claude Sonnet's list prices: $3 / MTok in, $15 / MTok out, $0.30 / MTok read from the cache
SONNET = ModelProfile(
    name="anthropic:claude-sonnet-5-5",
    input_cost_per_1k=0.003,
    output_cost_per_1k=0.015,
    cached_input_cost_per_1k=0.0003,
    quality=9,
)
JUDGE = FREE_JUDGE


def claude(usage: dict[str, Any]) -> httpx2.MockTransport:
    def answer(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        message = {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": "Paris."}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        if body.get("stream"):
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=_events(message))
        return httpx2.Response(200, json=message)

    return httpx2.MockTransport(answer)


def _events(message: dict[str, Any]) -> bytes:
    """`message` as the Messages API streams it: its usage in `message_start` (the cache-write breakdown and the
    inference geo only there), the cumulative counts again in `message_delta`."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    text = message["content"][0]["text"]
    delta_usage = {k: v for k, v in usage.items() if k not in ("cache_creation", "inference_geo")}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": delta_usage,
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


async def _run(usage: dict[str, Any], *, streamed: bool = False) -> tuple[float, float, float]:
    provider = AnthropicProvider(api_key="k", http_client=httpx2.AsyncClient(transport=claude(usage)))
    return await judged_run(provider, SONNET, "What is the capital of France?", streamed=streamed)


@pytest.mark.parametrize(
    ("usage", "billed"),
    [
        pytest.param(  # 50 x $3 + 800 x $3.75 + 200 x $6 + 20 x $15 (per MTok)
            {
                "input_tokens": 50,
                "cache_creation_input_tokens": 1000,
                "cache_creation": {"ephemeral_5m_input_tokens": 800, "ephemeral_1h_input_tokens": 200},
                "cache_read_input_tokens": 0,
                "output_tokens": 20,
            },
            0.00465,
            id="5-minute-and-1-hour",
        ),
        pytest.param(  # 50 x $3 + 1000 x $3.75 + 400 x $0.30 + 20 x $15: a write without its breakdown is 5-minute
            {
                "input_tokens": 50,
                "cache_creation_input_tokens": 1000,
                "cache_read_input_tokens": 400,
                "output_tokens": 20,
            },
            0.00432,
            id="no-breakdown",
        ),
        pytest.param(  # 50 x $3 + 400 x $0.30 + 20 x $15: no write, no premium
            {"input_tokens": 50, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 400, "output_tokens": 20},
            0.00057,
            id="read-only",
        ),
    ],
)
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
async def test_a_run_counts_cache_writes_at_what_anthropic_bills(
    usage: dict[str, Any], billed: float, streamed: bool
) -> None:
    total, spent, reserved = await _run(usage, streamed=streamed)
    assert (total, spent, reserved) == (billed, billed, 0.0)
