"""A Gemini 2.5 model judging. Those models take no thinking level (asked for one they answer 400 "Thinking level is
not supported for this model."): the judge was then asked again with no thinking setting at all, and Gemini 2.5 Flash
and Pro think dynamically by default (up to 8,192 tokens), their thoughts counted toward `maxOutputTokens`, the judge's
512-token cap. The verdict came back empty (`MAX_TOKENS`, the cap spent thinking), a failed judge paid for; and the
cheap Gemini 2.5 models are the ones a judge panel picks first. Such a model is now asked for a thinking budget
instead: 0 (thinking off, as Flash and Flash-Lite take it), then 128 for a model that cannot stop thinking (Pro:
"Budget 0 is invalid. This model only works in thinking mode."), each learnt once per model."""

from __future__ import annotations

import json
from typing import Any

import httpx2

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.providers import GenerationRequest, Message
from orchestratex_gemini import GeminiProvider

CATALOG = ModelCatalog.default()
FLASH = CATALOG.get("gemini:gemini-2.5-flash")
PRO = CATALOG.get("gemini:gemini-2.5-pro")
WRITER = ModelProfile(name="function:writer", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=9)
VERDICT = json.dumps({"score": 9, "feedback": "Correct and clear."})
_BUDGETS = {"gemini-2.5-flash": (0, 24_576), "gemini-2.5-pro": (128, 32_768)}
"""The thinking budgets each model takes (Flash: 0 turns thinking off)."""


def _error(message: str) -> httpx2.Response:
    return httpx2.Response(400, json={"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}})


class Gemini25:
    """Gemini 2.5 as documented: no thinking level; a thinking budget within the model's range; without either, dynamic
    thinking that spends the whole cap of a short call before any answer."""

    def __init__(self) -> None:
        self.thinking: list[dict[str, Any] | None] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        model = request.url.path.rsplit("/", 1)[-1].split(":")[0]
        config = json.loads(request.content).get("generationConfig", {})
        thinking = config.get("thinkingConfig")
        self.thinking.append(thinking)
        thinking = thinking or {}
        if "thinkingLevel" in thinking or "thinking_level" in thinking:
            return _error("Thinking level is not supported for this model.")
        budget = thinking.get("thinkingBudget", thinking.get("thinking_budget"))
        least, most = _BUDGETS[model]
        if budget is not None and not (least <= budget <= most or (budget == 0 and least == 0)):
            if budget == 0:
                return _error("Budget 0 is invalid. This model only works in thinking mode.")
            return _error(f"The thinking budget {budget} is invalid. Please choose a value between {least} and {most}.")
        cap = config["maxOutputTokens"]
        if budget is None:  # (dynamic thinking: the cap spent on thoughts)
            parts, finish, thoughts, answer = [], "MAX_TOKENS", cap, 0
        else:
            parts, finish, thoughts, answer = [{"text": VERDICT}], "STOP", budget, 14
        candidate = {"content": {"role": "model", "parts": parts}, "finishReason": finish}
        usage = {"promptTokenCount": 300, "candidatesTokenCount": answer, "thoughtsTokenCount": thoughts}
        return httpx2.Response(200, json={"candidates": [candidate], "usageMetadata": usage})


def _orchestrator(server: Gemini25, judge: ModelProfile) -> Orchestrator:
    provider = GeminiProvider(api_key="k", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)))
    return Orchestrator(
        providers=[provider, FunctionProvider(lambda r: "Paris is the capital of France.")],
        catalog=ModelCatalog([judge, WRITER]),
        router=BayesianRouter(explore=False),
        judges=[judge.name],
    )


def _budgets(thinking: list[dict[str, Any] | None]) -> list[object]:
    return [
        "level"
        if t and ("thinkingLevel" in t or "thinking_level" in t)
        else (t or {}).get("thinkingBudget", (t or {}).get("thinking_budget"))
        for t in thinking
    ]


async def test_gemini_2_5_flash_judges_with_its_thinking_off() -> None:
    server = Gemini25()
    orchestrator = _orchestrator(server, FLASH)
    for question in ("What is the capital of France?", "And of Italy?"):
        result = await orchestrator.run(question, max_iterations=1)
        assert result.status == "completed" and result.final_score == 9, result.orchestration.iterations
    assert _budgets(server.thinking) == ["level", 0, 0]


async def test_gemini_2_5_pro_judges_with_its_least_budget() -> None:
    server = Gemini25()
    orchestrator = _orchestrator(server, PRO)
    for question in ("What is the capital of France?", "And of Italy?"):
        result = await orchestrator.run(question, max_iterations=1)
        assert result.status == "completed" and result.final_score == 9, result.orchestration.iterations
    assert _budgets(server.thinking) == ["level", 0, 128, 128]


async def test_a_model_that_takes_no_thinking_setting_judges_without_one() -> None:
    thinking: list[object] = []

    def gemma(request: httpx2.Request) -> httpx2.Response:
        config = json.loads(request.content).get("generationConfig", {})
        thinking.append(config.get("thinkingConfig"))
        if "thinkingConfig" in config:
            return _error("Thinking is not enabled for models/gemma-3-27b-it")
        candidate = {"content": {"role": "model", "parts": [{"text": VERDICT}]}, "finishReason": "STOP"}
        usage = {"promptTokenCount": 300, "candidatesTokenCount": 14}
        return httpx2.Response(200, json={"candidates": [candidate], "usageMetadata": usage})

    provider = GeminiProvider(api_key="k", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(gemma)))
    judge = ModelProfile(name="gemini:gemma-3-27b-it", input_cost_per_1k=0, output_cost_per_1k=0, quality=6)
    request = GenerationRequest(
        model=judge, messages=[Message(role="user", content="Judge it.")], max_output_tokens=512, purpose="judge"
    )
    for _ in range(2):
        assert (await provider.generate(request)).text == VERDICT
    assert [t is not None for t in thinking] == [True, False, False]
