"""An answer with no text is a failed attempt of its model: never judged, paid for, and the run falls back."""

from __future__ import annotations

import pytest

from orchestratex import BayesianRouter, FunctionProvider, Generation, GenerationRequest, MemoryStore, Orchestrator
from orchestratex.exceptions import ContentFiltered, EmptyAnswer, MalformedResponse
from orchestratex.orchestrator._failures import keeps_judging, keeps_judging_recorded
from orchestratex.usage import Usage

from ..helpers import NO_WAIT, catalog
from ..ledger import ledger_problems


def _provider(empty: str, judged: list[str], calls: list[str]) -> FunctionProvider:
    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            judged.append(request.messages[-1].content)
            return '{"score": 9, "feedback": "ok"}'
        calls.append(request.model.name)
        return empty if request.model.name == "function:a" else "forty-two"

    return FunctionProvider(fn)


@pytest.mark.parametrize(
    "empty",
    ["", "  \n\t", "\u200b\ufeff \u2060", "\u2800\u3164\n"],
    ids=["empty", "whitespace", "invisible", "blank-letters"],
)  # (a zero-width space, a byte order mark and a word joiner: `str.strip` keeps them, and the answer was judged)
async def test_an_empty_answer_is_not_judged_and_another_model_answers(empty: str) -> None:
    judged: list[str] = []
    calls: list[str] = []
    store = MemoryStore()
    orch = Orchestrator(
        providers=[_provider(empty, judged, calls)],
        catalog=catalog("a", "b", "judge", quality={"a": 9.9, "b": 6.0, "judge": 1.0}),
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    result = await orch.run("What is six times seven?", max_iterations=1)

    assert calls == ["function:a", "function:b"]  # not retried: the same model would likely answer nothing again
    assert result.status == "completed" and result.final_model == "function:b"
    assert result.final_response == "forty-two"
    assert len(judged) == 1 and "forty-two" in judged[0]  # the empty answer cost no judging
    it = result.orchestration.iterations[0]
    assert it.errors == [
        "function:a: EmptyAnswer: function:a answered nothing: an empty answer (finish_reason 'stop'): nothing to judge"
    ]
    assert result.events[-1].type == "orchestration_completed"
    # the empty answer was billed (its prompt's tokens): counted in the run's cost and in the per-model analytics
    assert it.evaluation is not None
    assert result.total_cost > it.cost + it.evaluation.cost + 1e-9
    assert await ledger_problems(store, result.orchestration.session_id) == []
    analytics = await store.session_analytics(result.orchestration.session_id)
    [a] = [m for m in analytics.models if m.model_name == "function:a"]
    assert a.cost > 0 and a.generations == 1 and a.errors == 1
    # its empty answer did not rule it out as a judge of b's answer (see test_failed_answers_and_judges)
    assert a.judgements == it.evaluation.judge_models.count("function:a")


async def test_a_run_whose_every_model_answers_nothing_fails_and_says_so() -> None:
    calls: list[str] = []

    def nothing(request: GenerationRequest) -> str:
        calls.append(request.purpose)
        return ""

    orch = Orchestrator(
        providers=[FunctionProvider(nothing)],
        catalog=catalog("a", "b", "c"),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    result = await orch.run("What is six times seven?", max_iterations=1)
    assert result.status == "failed"
    # an empty answer leaves its model a judge of the others': each model is asked in turn, and no judge ever
    assert calls == ["generate", "generate", "generate"]
    error = result.orchestration.error or ""
    assert error.startswith("every model failed (3 models); the last failure: function:")
    assert error.endswith("answered nothing: an empty answer (finish_reason 'stop'): nothing to judge")


async def test_an_answer_truncated_to_nothing_says_the_output_cap_ran_out() -> None:
    def fn(request: GenerationRequest) -> Generation:
        if request.purpose == "judge":
            text = '{"score": 9, "feedback": "ok"}'
        elif request.model.name == "function:a":  # a reasoning model that thought until its cap
            return Generation(text="", usage=Usage(input_tokens=20, output_tokens=1000), finish_reason="length")
        else:
            text = "forty-two"
        return Generation(text=text, usage=Usage(input_tokens=20, output_tokens=5), finish_reason="stop")

    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=catalog("a", "b", "judge", quality={"a": 9.9, "b": 6.0, "judge": 1.0}),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    result = await orch.run("What is six times seven?", max_iterations=1)
    assert result.final_model == "function:b"
    [error] = result.orchestration.iterations[0].errors
    assert "function:a answered nothing: its 1000-token output cap ran out before any answer" in error
    assert "raise max_output_tokens" in error
    assert error.startswith("function:a: EmptyAnswer: ")


def test_an_empty_answer_is_its_own_type_and_a_malformed_response() -> None:
    assert issubclass(EmptyAnswer, MalformedResponse)
    empty = EmptyAnswer("function:a answered nothing: an empty answer", model="function:a", provider="function")
    assert keeps_judging(empty) and keeps_judging(ContentFiltered("refused", status_code=400))
    # a provider's own error worded like an empty answer is not one: its model is not kept as a judge
    lookalike = MalformedResponse("function:a answered nothing: the body had no choices", model="function:a")
    assert not keeps_judging(lookalike)
    assert keeps_judging_recorded("function:a: EmptyAnswer: function:a answered nothing: an empty answer")
    assert not keeps_judging_recorded("function:a: MalformedResponse: function:a answered nothing: no choices")
