"""A thinking Gemini model judging: its thoughts count toward the judge's output cap (512 by default), and Gemini 3's
default thinking level is `high`, so a verdict of a few dozen tokens came back empty (`MAX_TOKENS`, the cap spent
thinking): the judge failed, paid for. A judge is now asked to think at level `LOW` (as the OpenAI adapter asks its
reasoning judges for `reasoning_effort: "low"`), and a model that takes no thinking level is asked again without."""

from __future__ import annotations

import json
from typing import Any

import httpx2

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.providers import GenerationRequest, Message
from orchestratex_gemini import GeminiProvider

JUDGE = ModelProfile(name="gemini:gemini-4-hydrogen", input_cost_per_1k=0.0005, output_cost_per_1k=0.003, quality=8)
FLASH = ModelProfile(name="gemini:gemini-2.5-flash", input_cost_per_1k=0.0003, output_cost_per_1k=0.0025, quality=7)
WRITER = ModelProfile(name="function:writer", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=9)
VERDICT = json.dumps({"score": 9, "feedback": "Correct and clear."})


class ThinkingGemini:
    """Gemini thinking as its level says: at its default it spends the whole cap on thoughts and answers nothing;
    `gemini-2.5-*` refuses a thinking level (it takes a budget)."""

    def __init__(self) -> None:
        self.configs: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        config = json.loads(request.content).get("generationConfig", {})
        self.configs.append(config)
        thinking = config.get("thinkingConfig") or {}
        level = thinking.get("thinkingLevel", thinking.get("thinking_level"))
        if level is not None and "gemini-2.5" in request.url.path:
            error = {
                "code": 400,
                "message": "Thinking level is not supported for this model.",
                "status": "INVALID_ARGUMENT",
            }
            return httpx2.Response(400, json={"error": error})
        cap = config["maxOutputTokens"]
        if level == "LOW" or "gemini-2.5" in request.url.path:
            parts, finish, thoughts, answer = [{"text": VERDICT}], "STOP", 60, 14
        else:  # (level `high`: the cap is spent thinking)
            parts, finish, thoughts, answer = [], "MAX_TOKENS", cap, 0
        candidate = {"content": {"role": "model", "parts": parts}, "finishReason": finish}
        usage = {"promptTokenCount": 300, "candidatesTokenCount": answer, "thoughtsTokenCount": thoughts}
        return httpx2.Response(200, json={"candidates": [candidate], "usageMetadata": usage})


def _orchestrator(server: ThinkingGemini, judge: ModelProfile) -> Orchestrator:
    provider = GeminiProvider(api_key="k", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)))
    return Orchestrator(
        providers=[provider, FunctionProvider(lambda r: "Paris is the capital of France.")],
        catalog=ModelCatalog([judge, WRITER]),
        router=BayesianRouter(explore=False),
        judges=[judge.name],
    )


async def test_a_thinking_model_judges_within_its_cap() -> None:
    server = ThinkingGemini()
    result = await _orchestrator(server, JUDGE).run("What is the capital of France?", max_iterations=1)
    assert result.status == "completed" and result.final_score == 9, result.orchestration.iterations
    assert server.configs[0]["thinkingConfig"] in ({"thinkingLevel": "LOW"}, {"thinking_level": "LOW"})


async def test_a_model_that_takes_no_thinking_level_judges_without_one_from_then_on() -> None:
    server = ThinkingGemini()
    orchestrator = _orchestrator(server, FLASH)
    for question in ("What is the capital of France?", "And of Italy?"):
        result = await orchestrator.run(question, max_iterations=1)
        assert result.status == "completed" and result.final_score == 9
    levels = [
        ("thinkingLevel" in c["thinkingConfig"]) or ("thinking_level" in c["thinkingConfig"]) for c in server.configs
    ]
    assert levels == [True, False, False]  # (a thinking budget instead: test_gemini_judge_budget.py)


async def test_an_answer_is_not_asked_to_think_less() -> None:
    server = ThinkingGemini()
    provider = GeminiProvider(api_key="k", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)))
    request = GenerationRequest(
        model=FLASH, messages=[Message(role="user", content="Prove it.")], max_output_tokens=900
    )
    await provider.generate(request)
    assert "thinkingConfig" not in server.configs[0]
