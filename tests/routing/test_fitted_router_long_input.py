"""A FittedRouter prices what a run sends beyond its prompt: a conversation's earlier turns and a run's context, at
each candidate's input price. Its table's mean cost per call was the whole estimate, so on a long thread a model
whose input is dear looked as cheap as on a table prompt and was chosen for every turn, each call paying for the
whole conversation (as `ContextualRouter` did before it priced the whole input)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from orchestratex import FunctionProvider, GenerationRequest, Message, ModelCatalog, ModelProfile, Orchestrator
from orchestratex.lab import OutcomeTable
from orchestratex.routing import Task
from orchestratex.routing.fitted import FittedRouter

DEAR_INPUT = ModelProfile(name="function:a", input_cost_per_1k=0.01, output_cost_per_1k=0.001)
DEAR_OUTPUT = ModelProfile(name="function:b", input_cost_per_1k=0.001, output_cost_per_1k=0.01)
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.00001, output_cost_per_1k=0.00001, judge_only=True)
QUESTION = Message(role="user", content="What is missing?")
DOC = "Here is our design document:\n" + "the service keeps every order in one table " * 900  # ~40 KB


def router() -> FittedRouter:
    """Both models always right on the table's short prompts; `a` is the cheaper there (its output is cheap)."""
    n = 60
    table = OutcomeTable(
        name="short prompts",
        models=("a", "b"),
        prompts=tuple(f"question {i}" for i in range(n)),
        quality=np.ones((n, 2)),
        cost=np.tile([0.0015, 0.0051], (n, 1)),
    )
    return FittedRouter(cost_weight=10, text=False).fit(table, profiles=[DEAR_INPUT, DEAR_OUTPUT])


def answer(request: GenerationRequest) -> str:
    if request.purpose == "judge":
        return json.dumps({"score": 9, "feedback": "ok"})
    return "An answer of a few hundred tokens. " * 40


@pytest.mark.parametrize(
    ("conversation", "context"),
    [
        ([Message(role="user", content=DOC), Message(role="assistant", content="Read it."), QUESTION], None),
        ([QUESTION], DOC),
    ],
    ids=["earlier turns", "context"],
)
async def test_a_long_input_goes_to_the_model_whose_input_is_cheap(
    conversation: list[Message], context: str | None
) -> None:
    orchestrator = Orchestrator(
        providers=[FunctionProvider(answer)], catalog=ModelCatalog([DEAR_INPUT, DEAR_OUTPUT, JUDGE]), router=router()
    )
    short = await orchestrator.run("What is missing?", max_iterations=1)
    assert short.orchestration.iterations[0].model_name == "function:a"  # a table-sized prompt: the table's choice
    result = await orchestrator.run(conversation, context=context, max_iterations=1)
    it = result.orchestration.iterations[0]
    assert it.model_name == "function:b", it.reasoning
    cheap = float(it.reasoning.partition("~$")[2].split()[0])
    assert cheap == pytest.approx(it.cost, rel=0.25)  # the estimate it chose by is about what the call cost
    await orchestrator.aclose()


def test_a_table_prompt_alone_is_priced_as_before() -> None:
    # the lab's replays hand the router the prompt alone (and a run its prompt with the system prompt's framing):
    # nothing is added, so their decisions are unchanged
    fitted, candidates = router(), [DEAR_INPUT, DEAR_OUTPUT]
    task = Task(prompt="question 3", original_prompt="question 3", input_tokens=len(b"question 3"))
    assert fitted.decide(task, candidates).model_name == "function:a"
    framed = Task(prompt="question 3", input_tokens=len(b"question 3") + 1000)
    assert fitted.decide(framed, candidates).reasoning == fitted.decide(task, candidates).reasoning


CHEAP = ModelProfile(name="function:c", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001)
LONG_ANSWER = "A first answer that goes on and on about the design. " * 800  # ~43 KB, rejected


def refining_router() -> FittedRouter:
    """`c` is the cheapest and always right on the table (the first choice); after its rejection `a` (dear input,
    cheap output) is the cheaper of the two others on a table-sized prompt."""
    n = 60
    table = OutcomeTable(
        name="short prompts",
        models=("a", "b", "c"),
        prompts=tuple(f"question {i}" for i in range(n)),
        quality=np.ones((n, 3)),
        cost=np.tile([0.0015, 0.0051, 0.0001], (n, 1)),
    )
    return FittedRouter(cost_weight=10, text=False).fit(table, profiles=[DEAR_INPUT, DEAR_OUTPUT, CHEAP])


def refined_answer(request: GenerationRequest) -> str:
    last = request.messages[-1].content
    if request.purpose == "judge":
        return json.dumps({"score": 3 if "on and on" in last.split("Previous answer")[-1] else 9, "feedback": "long"})
    return "A short answer." if "Previous answer" in last else LONG_ANSWER


async def test_a_refinement_carrying_a_long_answer_is_priced_with_it() -> None:
    """Before: a refinement's prompt carries the rejected answer and the judges' feedback (here ~43 KB), but the
    router priced the call as a table prompt: the model whose input is dear looked cheaper and was chosen, its
    reasoning saying ~$0.0015 for a call whose input alone cost about $0.1. The refinement's text now counts as input
    sent beyond the table's prompt."""
    orchestrator = Orchestrator(
        providers=[FunctionProvider(refined_answer)],
        catalog=ModelCatalog([DEAR_INPUT, DEAR_OUTPUT, CHEAP, JUDGE]),
        router=refining_router(),
    )
    result = await orchestrator.run("What is missing?", max_iterations=2, evaluation_threshold=8)
    first, refinement = result.orchestration.iterations
    assert (first.model_name, first.score) == ("function:c", 3.0)
    assert refinement.model_name == "function:b", refinement.reasoning
    assert "after function:c scored below the threshold" in refinement.reasoning
    estimate = float(refinement.reasoning.partition("~$")[2].split()[0].rstrip(".)"))
    assert estimate > 0.0051  # the table's cost of `b` on a short prompt, and the ~43 KB it was sent on top
    await orchestrator.aclose()
