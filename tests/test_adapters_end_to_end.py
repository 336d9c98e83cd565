"""One orchestration across the three real adapters (their SDKs over mock HTTP transports): the
router picks a model of one provider and another provider's model judges it. And each adapter, over real
HTTP, waits out the `Retry-After` of a 503 (Anthropic: 529 overloaded) before retrying."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

import orchestratex.providers
from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.evaluation import LLMJudgeEvaluator
from orchestratex.orchestrator import RetryPolicy
from orchestratex.providers import Provider
from orchestratex.testing.provider_contract import Reply, local_server

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


OVERLOADED: dict[str, tuple[int, Any, Callable[[httpx2.Request], httpx2.Response], Callable[[str], Provider]]] = {
    "openai": (
        503,
        {"error": {"message": "The engine is currently overloaded", "type": "server_error", "code": None}},
        _openai,
        lambda url: openai_adapter.OpenAIProvider("sk-test", base_url=f"{url}/v1"),
    ),
    "anthropic": (
        529,
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        _anthropic,
        lambda url: anthropic_adapter.AnthropicProvider("sk-ant-test", base_url=url),
    ),
    "gemini": (
        503,
        {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}},
        _gemini,
        lambda url: gemini_adapter.GeminiProvider("gm-test", base_url=url),
    ),
}
"""Per adapter: the status and body its vendor answers when overloaded, its success handler, a provider for a URL."""


@pytest.mark.parametrize("name", list(OVERLOADED))
async def test_an_overloaded_answer_with_retry_after_is_waited_out_over_real_http(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, error, success, make = OVERLOADED[name]
    statuses: list[int] = []

    def answer(sent: dict[str, Any]) -> Reply:
        if not statuses:
            statuses.append(status)
            return Reply(status, json=error, headers={"retry-after": "4"})
        statuses.append(200)
        request = httpx2.Request("POST", "http://local/", json=sent)
        return Reply(200, content=success(request).content)

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    model = ModelProfile(name=f"{name}:overloaded-model", input_cost_per_1k=0.001, output_cost_per_1k=0.002)
    judge = ModelProfile(name="function:judge", cost_per_1k_tokens=0.001)
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not the vendor
    with local_server(answer) as url:
        async with Orchestrator(
            providers=[make(url), FunctionProvider(lambda request: VERDICT)],
            catalog=ModelCatalog([model, judge]),
            evaluator=LLMJudgeEvaluator(judges=[judge.name]),
            router=BayesianRouter(explore=False),
            retry=RetryPolicy(initial_wait=0.01, max_wait=30, sleep=sleep),
        ) as orchestrator:
            result = await orchestrator.run("Write fibonacci", max_iterations=1, preferred_models=[model.name])

    assert statuses == [status, 200]
    assert waits == [4.0]  # the Retry-After, not the 0.01 s backoff
    assert result.status == "completed" and result.final_response == ANSWER
