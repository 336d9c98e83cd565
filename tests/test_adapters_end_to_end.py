"""One orchestration across the three real adapters (their SDKs over mock HTTP transports): the
router picks a model of one provider and another provider's model judges it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import pytest

from orchestratex import BayesianRouter, Orchestrator

pytest.importorskip("httpx2")
import httpx2

openai_adapter = pytest.importorskip("orchestratex_openai")
anthropic_adapter = pytest.importorskip("orchestratex_anthropic")
gemini_adapter = pytest.importorskip("orchestratex_gemini")

VERDICT = json.dumps({"score": 9, "feedback": "Correct and clear; add a docstring."})
ANSWER = "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a"


def _is_judge(request: httpx2.Request) -> bool:
    return b"ANSWER:" in request.content


def _openai(request: httpx2.Request) -> httpx2.Response:
    text = VERDICT if _is_judge(request) else ANSWER
    body = json.loads(request.content)
    return httpx2.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1764000000,
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 60, "completion_tokens": 40, "total_tokens": 100},
        },
    )


def _anthropic(request: httpx2.Request) -> httpx2.Response:
    text = VERDICT if _is_judge(request) else ANSWER
    body = json.loads(request.content)
    return httpx2.Response(
        200,
        json={
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 60, "output_tokens": 40},
        },
    )


def _gemini(request: httpx2.Request) -> httpx2.Response:
    text = VERDICT if _is_judge(request) else ANSWER
    return httpx2.Response(
        200,
        json={
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": {"promptTokenCount": 60, "candidatesTokenCount": 40, "totalTokenCount": 100},
            "modelVersion": "gemini-4-neon",
        },
    )


async def test_routes_and_judges_across_real_adapters() -> None:
    calls: Counter[str] = Counter()

    def counted(name: str, handler: Callable[[httpx2.Request], httpx2.Response]) -> httpx2.AsyncClient:
        def wrapped(request: httpx2.Request) -> httpx2.Response:
            calls[name] += 1
            return handler(request)

        return httpx2.AsyncClient(transport=httpx2.MockTransport(wrapped))

    providers = [
        openai_adapter.OpenAIProvider("sk-test", http_client=counted("openai", _openai)),
        anthropic_adapter.AnthropicProvider("sk-ant-test", http_client=counted("anthropic", _anthropic)),
        gemini_adapter.GeminiProvider("gm-test", http_client=counted("gemini", _gemini)),
    ]
    orchestrator = Orchestrator(providers=providers, router=BayesianRouter(explore=False))
    assert not orchestrator.simulated
    result = await orchestrator.run("Write a Python function to calculate fibonacci numbers", cost_limit=0.50)

    assert result.status == "completed" and result.stop_reason == "threshold"
    it = result.orchestration.iterations[0]
    assert it.response == ANSWER
    assert it.evaluation is not None and it.evaluation.score == 9
    generator = it.model_name.partition(":")[0]
    judges = {j.partition(":")[0] for j in it.evaluation.judge_models}
    assert generator not in judges  # another provider judged it
    assert calls[generator] == 1 and sum(calls.values()) == 2  # one request each: no hidden retries
    model = orchestrator.catalog.get(it.model_name)
    assert it.cost == model.cost(it.usage) > 0
    assert result.total_cost == pytest.approx(it.cost + it.evaluation.cost, abs=1e-12)
    for provider in providers:
        await provider.aclose()
