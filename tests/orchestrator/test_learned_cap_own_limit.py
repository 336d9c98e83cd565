"""Answers cut by a run's own small `max_output_tokens` do not teach the learned output cap.

Runs with `max_output_tokens=40`, each answer cut there (finish reason `length`), were counted as answers of 80
tokens (twice the cap, as for an answer cut at a learned cap): the model's learned cap fell to the 256-token floor,
and the next run asking 4,000 tokens with no budget at all had its answer cut at 256.
"""

from __future__ import annotations

import json

from orchestratex import FunctionProvider, GenerationRequest, LLMJudgeEvaluator, MemoryStore, Orchestrator
from orchestratex.orchestrator import OutputCapPolicy
from orchestratex.orchestrator._budget import OutputLengths

from .. import helpers

LONG = "word " * 3000  # far more than any cap below: the provider cuts it at the request's cap


def _answer(request: GenerationRequest) -> str:
    if request.purpose == "judge":
        return json.dumps({"score": 9, "feedback": "fine"})
    return LONG if "essay" in request.messages[-1].content else "a short answer"


async def test_answers_cut_at_the_runs_own_limit_leave_the_next_runs_cap_alone() -> None:
    orchestrator = Orchestrator(
        providers=[FunctionProvider(_answer)],
        catalog=helpers.catalog("writer", "judge", quality={"writer": 9.0, "judge": 5.0}),
        store=MemoryStore(),
        evaluator=LLMJudgeEvaluator(panel_size=1),
    )
    writer = ["function:writer"]
    async with orchestrator:
        for i in range(12):
            cut = await orchestrator.run(
                f"essay {i}, in brief", max_output_tokens=40, max_iterations=1, preferred_models=writer
            )
            assert cut.orchestration.iterations[0].finish_reason == "length"
        long = await orchestrator.run(
            "an essay on Rome", max_output_tokens=1000, max_iterations=1, preferred_models=writer
        )
    it = long.orchestration.iterations[0]
    assert it.model_name == "function:writer"
    assert it.usage.output_tokens == 1000, "sent the run's own cap, not a cap learned from the 40-token cuts"


def test_an_answer_cut_at_the_learned_cap_still_counts_twice() -> None:
    lengths = OutputLengths(OutputCapPolicy())
    for _ in range(5):
        lengths.observe("m", "generate", 100, finish_reason="stop", cap=4000, most=4000)
    assert lengths.typical("m", "generate") == 100  # learned cap: max(150, 256) = 256
    for _ in range(5):  # cut at a smaller cap than the learned one (the run's own or its budget's): not counted
        lengths.observe("m", "generate", 40, finish_reason="length", cap=40, most=4000)
    assert lengths.typical("m", "generate") == 100
    for _ in range(3):  # cut at the learned cap: counted as twice as long, so the cap grows back
        lengths.observe("m", "generate", 256, finish_reason="length", cap=256, most=4000)
    assert lengths.typical("m", "generate") == 512
    lengths.observe("n", "generate", 4000, finish_reason="length", cap=4000, most=4000)  # the model's own limit
    lengths.observe("n", "generate", 30, finish_reason="length", cap=30, most=4000)  # the run's: not counted
    assert sorted(lengths._seen["n", "generate"][0]) == [8000]
