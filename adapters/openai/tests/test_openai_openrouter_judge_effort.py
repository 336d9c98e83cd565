"""A judge served through OpenRouter that thinks by default: Claude 5.5 (adaptive thinking), Gemini 3 and 4 (thinking
level `high`/`medium`), Gemini 2.5 Flash and Pro (dynamic thinking). Their thinking counts toward the judge's 512-token
cap, which they could spend whole before the verdict: it came back empty (`finish_reason: length`), a failed judge paid
for. Only OpenAI's own reasoning models (known by their ids: `openai/gpt-6.2-sol`) were asked for
`reasoning_effort: "low"`. OpenRouter takes that effort for every model and passes it on in each vendor's own terms
(Anthropic's effort, Gemini's thinking level or budget), and ignores it for a model that does not reason: judge calls to
OpenRouter (`openrouter:`, or a catalog endpoint or `OPENAI_BASE_URL` at openrouter.ai) now send it for any model."""

from __future__ import annotations

import json
from typing import Any

import httpx2

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider, OpenRouterProvider

from .test_openai_contract import chat_completion

JUDGE = ModelProfile(
    name="openrouter:anthropic/claude-sonnet-5.5", input_cost_per_1k=0.002, output_cost_per_1k=0.01, quality=9
)
WRITER = ModelProfile(name="function:writer", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=9)
VERDICT = json.dumps({"score": 9, "feedback": "Correct and clear."})


class OpenRouter:
    """OpenRouter in front of Claude 5.5: without a low effort, the model thinks its whole cap away (the reasoning
    counted in the completion tokens, `content` empty)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        effort = body.get("reasoning_effort") or (body.get("reasoning") or {}).get("effort")
        cap = body.get("max_tokens") or body.get("max_completion_tokens")
        if effort == "low":
            answer = chat_completion(Usage(input_tokens=300, output_tokens=40, reasoning_tokens=26), text=VERDICT)
        else:
            answer = chat_completion(
                Usage(input_tokens=300, output_tokens=cap, reasoning_tokens=cap), text="", finish="length"
            )
        answer["model"] = body["model"]
        return httpx2.Response(200, json=answer)


def _run(provider: OpenAIProvider, judge: ModelProfile) -> tuple[str | None, float | None]:
    import asyncio

    orchestrator = Orchestrator(
        providers=[provider, FunctionProvider(lambda r: "Paris is the capital of France.")],
        catalog=ModelCatalog([judge, WRITER]),
        router=BayesianRouter(explore=False),
        judges=[judge.name],
    )

    async def run() -> tuple[str | None, float | None]:
        result = await orchestrator.run("What is the capital of France?", max_iterations=1)
        return result.status, result.final_score

    return asyncio.run(run())


def test_an_openrouter_judge_is_asked_for_low_effort() -> None:
    server = OpenRouter()
    provider = OpenRouterProvider(
        api_key="sk-or-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server))
    )
    assert _run(provider, JUDGE) == ("completed", 9)
    assert server.bodies[0]["reasoning_effort"] == "low"
    assert server.bodies[0]["model"] == "anthropic/claude-sonnet-5.5"


def test_a_catalog_endpoint_at_openrouter_asks_its_judges_for_low_effort() -> None:
    server = OpenRouter()
    named = type(OpenAIProvider.from_config("router", base_url="https://openrouter.ai/api/v1", api_key="sk-or-test"))
    provider = named(api_key="sk-or-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)))
    judge = ModelProfile(
        name="router:google/gemini-4-neon", input_cost_per_1k=0.003, output_cost_per_1k=0.015, quality=9
    )
    assert _run(provider, judge) == ("completed", 9)
    assert server.bodies[0]["reasoning_effort"] == "low"


def test_an_answer_through_openrouter_is_not_asked_for_less_effort() -> None:
    import asyncio

    from orchestratex.providers import GenerationRequest, Message

    server = OpenRouter()
    provider = OpenRouterProvider(
        api_key="sk-or-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server))
    )
    request = GenerationRequest(
        model=JUDGE, messages=[Message(role="user", content="Prove it.")], max_output_tokens=900
    )
    asyncio.run(provider.generate(request))
    assert "reasoning_effort" not in server.bodies[0]


def test_openrouter_behind_a_proxy_asks_its_judges_for_low_effort() -> None:
    # (OPENROUTER_BASE_URL at a gateway in front of OpenRouter, Helicone's `https://openrouter.helicone.ai/api/v1`: its
    # host is not openrouter.ai, but the server it speaks for is)
    server = OpenRouter()
    provider = OpenRouterProvider(
        api_key="sk-or-test",
        base_url="https://openrouter.helicone.ai/api/v1",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)),
    )
    assert _run(provider, JUDGE) == ("completed", 9)
    assert server.bodies[0]["reasoning_effort"] == "low"
