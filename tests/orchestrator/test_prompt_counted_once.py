"""A run counts its messages' byte bound once before its first call: the task the router sees, the candidates'
fit and the generation's request read the same count (a long prompt in a script other than Latin is converted to
UTF-8 to be counted, about 50 µs for 50,000 characters each time)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from orchestratex import (
    FunctionProvider,
    GenerationRequest,
    LLMJudgeEvaluator,
    Message,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
)
from orchestratex.orchestrator import _candidates, _run
from orchestratex.providers import _base, estimate_input_tokens

PROMPT = "Résumé de la réunion : " + "données économiques, prévisions à moyen terme ; " * 1000


def counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the byte counts made of the run's user message (`estimate_message_tokens` over it)."""
    counted: list[int] = []
    estimate = _base.estimate_message_tokens

    def counts(messages: Sequence[Message]) -> int:
        if any(m.role == "user" and m.content == PROMPT for m in messages):
            counted.append(1)
        return estimate(messages)

    for module in (_base, _candidates, _run):
        monkeypatch.setattr(module, "estimate_message_tokens", counts, raising=False)
    return counted


async def test_the_prompt_is_counted_once_before_the_first_call(monkeypatch: pytest.MonkeyPatch) -> None:
    bounds: list[int] = []

    def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": 9.0, "feedback": "fine"})
        seen.append(len(counted))
        bounds.append(estimate_input_tokens(request))  # (the count its reservation was made with, made anew)
        return "Une réponse."

    catalog = ModelCatalog([ModelProfile(name=f"function:{n}", cost_per_1k_tokens=0.001) for n in "abc"])
    orch = Orchestrator(
        providers=[FunctionProvider(answer)],
        catalog=catalog,
        evaluator=LLMJudgeEvaluator(),
        max_iterations=1,
    )
    counted, seen = counting(monkeypatch), list[int]()
    result = await orch.run(PROMPT, cost_limit=5.0)
    assert result.status == "completed"
    assert seen == [1]  # before, three times: for the task, the candidates and the request
    assert result.orchestration.iterations[0].prompt == PROMPT
    messages = [Message(role="system", content=orch.system_prompt), Message(role="user", content=PROMPT)]
    assert bounds == [_base.estimate_message_tokens(messages)] and bounds[0] > len(PROMPT)  # (its bytes)
