"""A judge's request is sent at least the output cap its provider's API takes (`Provider.min_output_tokens`):
OpenAI's Responses API refuses fewer than 16 output tokens, so a judge capped below that (`judge_max_output_tokens`,
`LLMJudgeEvaluator(max_output_tokens=...)`) was refused unsent and every verdict failed."""

from __future__ import annotations

import json

import pytest

from orchestratex import (
    FunctionProvider,
    GenerationRequest,
    LLMJudgeEvaluator,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
)


class FloorProvider(FunctionProvider):
    """A provider whose API takes no output cap below 16, and refuses a smaller one, as the OpenAI adapter does for
    the Responses API."""

    def min_output_tokens(self, model: ModelProfile) -> int:
        return 16


def catalog() -> ModelCatalog:
    return ModelCatalog(
        [
            ModelProfile(name="function:a", cost_per_1k_tokens=0.001, quality=8.0),
            ModelProfile(name="function:b", cost_per_1k_tokens=0.001, quality=7.5),
        ]
    )


@pytest.mark.parametrize("where", ["orchestrator", "evaluator"])
async def test_a_judge_capped_below_its_api_s_least_cap_is_sent_that_cap(where: str) -> None:
    caps: list[int] = []

    async def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            caps.append(request.max_output_tokens)
            if request.max_output_tokens < 16:  # (what OpenAI answers: "integer below minimum value")
                raise ValueError("max_output_tokens below minimum value 16")
            return json.dumps({"score": 9.0, "feedback": "ok"})
        return "Paris."

    options: dict[str, object] = (
        {"judge_max_output_tokens": 8}
        if where == "orchestrator"
        else {"evaluator": LLMJudgeEvaluator(panel_size=1, max_output_tokens=8)}
    )
    orch = Orchestrator(providers=[FloorProvider(answer)], catalog=catalog(), max_iterations=1, **options)  # type: ignore[arg-type]
    for _ in range(2):  # (a second run on the same orchestrator: the learned caps stay above the floor)
        result = await orch.run("What is the capital of France?", cost_limit=1.0)
        assert result.status == "completed", result.orchestration.error
        assert result.final_score == 9.0
    assert caps == [16, 16]
    await orch.aclose()
