"""gpt-oss judging on a hosted server (Groq, Together, Fireworks, Cerebras: `[providers.groq]` with
`groq:openai/gpt-oss-20b`) or vLLM. gpt-oss always reasons, at effort `medium` unless asked otherwise, and its reasoning
counts toward the judge's 512-token cap: a verdict of a few dozen tokens could come back empty (`finish_reason:
length`, the reasoning split off as `reasoning`), a failed judge paid for. Only Ollama's judges of gpt-oss were asked
for `reasoning_effort: "low"` (its id is no OpenAI reasoning model's, `o3`, `gpt-5…`). Every server's now is."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.providers import GenerationRequest, Message
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider

from .test_openai_contract import chat_completion

JUDGE = ModelProfile(name="groq:openai/gpt-oss-20b", input_cost_per_1k=0.0001, output_cost_per_1k=0.0005, quality=8)
WRITER = ModelProfile(name="function:writer", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=9)
VERDICT = json.dumps({"score": 9, "feedback": "Correct and clear."})


class Groq:
    """Groq serving gpt-oss: at its default effort the judge's cap is spent reasoning (`reasoning` apart, empty)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        cap = body["max_tokens"]
        if body.get("reasoning_effort") == "low":
            answer = chat_completion(Usage(input_tokens=300, output_tokens=60, reasoning_tokens=40), text=VERDICT)
        else:
            answer = chat_completion(
                Usage(input_tokens=300, output_tokens=cap, reasoning_tokens=cap), text="", finish="length"
            )
            answer["choices"][0]["message"]["reasoning"] = "The user wants a score. Let me weigh the answer..."
        answer["model"] = body["model"]
        return httpx2.Response(200, json=answer)


def _groq(server: Groq) -> OpenAIProvider:
    named = type(OpenAIProvider.from_config("groq", base_url="https://api.groq.com/openai/v1", api_key="gsk-test"))
    return named(api_key="gsk-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)))


def test_gpt_oss_on_groq_judges_at_low_effort() -> None:
    server = Groq()
    orchestrator = Orchestrator(
        providers=[_groq(server), FunctionProvider(lambda r: "Paris is the capital of France.")],
        catalog=ModelCatalog([JUDGE, WRITER]),
        router=BayesianRouter(explore=False),
        judges=[JUDGE.name],
    )

    async def run() -> tuple[str | None, float | None]:
        result = await orchestrator.run("What is the capital of France?", max_iterations=1)
        return result.status, result.final_score

    assert asyncio.run(run()) == ("completed", 9)
    assert server.bodies[0]["reasoning_effort"] == "low"
    assert server.bodies[0]["temperature"] == 0.0  # (gpt-oss takes a temperature: it is still sent)


def test_gpt_oss_answers_at_its_own_effort() -> None:
    server = Groq()
    request = GenerationRequest(
        model=JUDGE, messages=[Message(role="user", content="Prove it.")], max_output_tokens=900
    )
    asyncio.run(_groq(server).generate(request))
    assert "reasoning_effort" not in server.bodies[0]
