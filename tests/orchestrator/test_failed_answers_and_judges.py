"""A model whose answer failed is no routing candidate for the rest of the run; whether it may still judge the
other models' answers depends on what failed (`orchestrator/_failures.py`)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from orchestratex import (
    BayesianRouter,
    FunctionProvider,
    Generation,
    GenerationRequest,
    LLMJudgeEvaluator,
    MemoryStore,
    Orchestrator,
)
from orchestratex.exceptions import (
    AuthenticationError,
    CircuitOpen,
    ContentFiltered,
    ContextLengthExceeded,
    MalformedResponse,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderServerError,
    ProviderTimeout,
    RateLimited,
)
from orchestratex.orchestrator._failures import SET_ASIDE
from orchestratex.orchestrator._run import Run
from orchestratex.records import Session, SessionSettings
from orchestratex.usage import Usage

from ..helpers import NO_WAIT, catalog

_VERDICT = '{"score": 9, "feedback": "ok"}'


def _orchestrator(fn: object, *names: str, **kwargs: object) -> Orchestrator:
    models = catalog(*names, quality={"a": 9.9, "b": 6.0, "c": 1.0})
    models.update("function:a", context_window=50_000)  # (after a ContextLengthExceeded, b and c still fit)
    return Orchestrator(
        providers=[FunctionProvider(fn)],  # type: ignore[arg-type]
        catalog=models,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        **kwargs,  # type: ignore[arg-type]
    )


def _judge_models(result: object) -> list[str]:
    [it] = result.orchestration.iterations  # type: ignore[attr-defined]
    assert it.evaluation is not None
    return list(it.evaluation.judge_models)


@pytest.mark.parametrize("empty", ["", "  \n"], ids=["empty", "whitespace"])
async def test_a_model_whose_answer_was_empty_judges_the_next_models_answer(empty: str) -> None:
    judges: list[str] = []

    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            judges.append(request.model.name)
            return _VERDICT
        return empty if request.model.name == "function:a" else "forty-two"

    result = await _orchestrator(fn, "a", "b").run("What is six times seven?", max_iterations=1)
    assert result.status == "completed", result.orchestration.error
    assert result.final_model == "function:b" and result.final_response == "forty-two"
    assert judges == ["function:a"] and _judge_models(result) == ["function:a"]


async def test_a_model_whose_answer_was_truncated_to_nothing_still_judges() -> None:
    def fn(request: GenerationRequest) -> str | Generation:
        if request.purpose == "judge":
            return _VERDICT
        if request.model.name == "function:a":  # a reasoning model that thought until its output cap
            return Generation(text="", usage=Usage(input_tokens=20, output_tokens=1000), finish_reason="length")
        return "forty-two"

    result = await _orchestrator(fn, "a", "b").run("What is six times seven?", max_iterations=1)
    assert result.status == "completed" and _judge_models(result) == ["function:a"]


def _failure(kind: type[ProviderError]) -> ProviderError:
    if issubclass(kind, ProviderHTTPError):
        status = {AuthenticationError: 401, RateLimited: 429, ContextLengthExceeded: 400, ContentFiltered: 400}
        # (a key refused for this model only, as a gateway's: a key refused outright, the provider's others go too)
        message = "key not allowed to access this model" if kind is AuthenticationError else "refused"
        return kind(message, status_code=status.get(kind, 503 if kind is ProviderServerError else 404))
    if kind is MalformedResponse:
        return kind("the body could not be parsed as JSON")
    return kind("failed")


async def test_an_answer_the_provider_filtered_leaves_its_model_a_judge() -> None:
    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return _VERDICT
        if request.model.name == "function:a":
            raise _failure(ContentFiltered)
        return "forty-two"

    result = await _orchestrator(fn, "a", "b").run("What is six times seven?", max_iterations=1)
    assert result.status == "completed" and _judge_models(result) == ["function:a"]


@pytest.mark.parametrize(
    "kind",
    [
        AuthenticationError,
        ProviderHTTPError,  # a 404: the model is not found
        ProviderServerError,
        RateLimited,
        ContextLengthExceeded,
        ProviderTimeout,
        ProviderConnectionError,
        MalformedResponse,  # a body that could not be read: the next one would not be either
        CircuitOpen,
    ],
)
async def test_a_model_that_failed_as_unusable_judges_no_more(kind: type[ProviderError]) -> None:
    asked: list[str] = []

    def fn(request: GenerationRequest) -> str:
        if request.model.name == "function:a":
            asked.append(request.purpose)
            raise _failure(kind)
        return _VERDICT if request.purpose == "judge" else "forty-two"

    two = await _orchestrator(fn, "a", "b").run("What is six times seven?", max_iterations=1)
    assert two.status == "failed"
    assert (two.orchestration.error or "").startswith(
        "1 model failed in this run and no model is left to judge another's answer; the last failure: function:a: "
        f"{kind.__name__}: "
    )
    asked.clear()
    three = await _orchestrator(fn, "a", "b", "c", evaluator=LLMJudgeEvaluator(panel_size=2)).run(
        "What is six times seven?", max_iterations=1
    )
    assert three.status == "completed" and _judge_models(three) == ["function:c"]
    assert "judge" not in asked


@pytest.mark.parametrize("kind", [AuthenticationError, ProviderTimeout, RateLimited, ContextLengthExceeded])
async def test_a_model_that_failed_as_a_judge_is_not_asked_to_judge_again_in_the_run(
    kind: type[ProviderError],
) -> None:
    """Its failure as a judge (its key refused, a timeout or rate limit past the retries, a judge prompt too long
    for it) shows it unusable, as docs/evaluation.md says; it used to be asked first again for every later answer
    of the run, each time waiting out its retries before the next judge was asked."""
    asked: list[tuple[int, str]] = []  # (answers so far, judge)
    answers: list[str] = []

    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            asked.append((len(answers), request.model.name))
            if request.model.name == "function:c":
                raise _failure(kind)
            return '{"score": 3, "feedback": "try again"}'
        answers.append(request.model.name)
        return f"an answer by {request.model.name}"

    # c, the cheapest judge of adequate quality, is the evaluator's first choice for every answer
    models = catalog("a", "b", "c", "d", quality={"a": 9.9, "b": 9.0, "c": 8.0, "d": 8.0})
    models.update("function:c", judge_only=True, input_cost_per_1k=0.0001, output_cost_per_1k=0.0001)
    models.update("function:d", judge_only=True)
    orch = Orchestrator(
        providers=[FunctionProvider(fn)], catalog=models, retry=NO_WAIT, router=BayesianRouter(explore=False)
    )
    result = await orch.run("What is six times seven?", max_iterations=3, patience=3)
    assert result.status == "completed" and len(result.orchestration.iterations) == 3
    assert {n for n, judge in asked if judge == "function:c"} == {1}, (
        asked
    )  # (with its retries) for the first answer only
    judged = [it.evaluation for it in result.orchestration.iterations]
    assert all(e is not None and "function:c" not in e.judge_models for e in judged)
    await orch.aclose()


class _Died(BaseException):
    """The process dies while a call is in flight (a SIGKILL, in one process)."""


@pytest.mark.parametrize(
    ("answer_of_a", "judges"),
    [
        ("", ["function:a", "function:c"]),
        (AuthenticationError("key not allowed to access model a", status_code=401), ["function:c"]),
    ],
    ids=["empty", "authentication"],
)
async def test_a_resumed_run_reads_which_failed_models_may_still_judge(
    answer_of_a: str | Exception, judges: list[str]
) -> None:
    store = MemoryStore()
    dead = True

    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return _VERDICT
        if request.model.name == "function:a":
            if isinstance(answer_of_a, Exception):
                raise answer_of_a
            return answer_of_a
        if dead:  # the process dies while b answers, after a's failure was committed
            raise _Died
        return "forty-two"

    def make() -> Orchestrator:
        return _orchestrator(fn, "a", "b", "c", store=store, evaluator=LLMJudgeEvaluator(panel_size=2), lease_ttl_s=0.2)

    await store.open()
    session = await store.create_session(Session(user_id="alice", settings=SessionSettings()))
    with pytest.raises(_Died):
        await make().run("What is six times seven?", session=session, max_iterations=1)
    dead = False
    [result] = await make().resume_pending()
    assert result.status == "completed" and result.final_model == "function:b"
    assert sorted(_judge_models(result)) == judges


def test_the_failures_a_resumed_run_reads_are_those_the_live_run_acted_on() -> None:
    run = SimpleNamespace(failed=frozenset(), not_judging=frozenset())
    Run._failed_before(
        cast(Run, run),
        [
            "function:a: EmptyAnswer: function:a answered nothing: an empty answer (finish_reason 'stop'):"
            " nothing to judge",
            "function:b: ContentFiltered: the provider refused the content",
            "function:c: AuthenticationError: 401 invalid key",
            "function:d: MalformedResponse: function:d reported a negative token count (-1 input, ...)",
            "function:g: MalformedResponse: function:g answered nothing: the body had no choices",  # the adapter's
            "function:e: CostOverrun: reported usage cost $0.2, $0.1 above the $0.1 reserved for the call",
            "function:f: BudgetExceeded: a call may cost up to $0.1 but $0.05 is left",  # not the model's failure
            "evaluation: EvaluationError: no judge produced a verdict",
        ],
    )
    assert run.failed == {"function:a", "function:b", "function:c", "function:d", "function:e", "function:g"}
    assert run.not_judging == {"function:c", "function:d", "function:e", "function:g"}


@pytest.mark.parametrize(
    "kind", [ProviderTimeout, ProviderServerError, RateLimited, ProviderConnectionError, ProviderHTTPError]
)
async def test_a_model_that_failed_as_a_judge_is_not_asked_to_answer_later_in_the_run(
    kind: type[ProviderError],
) -> None:
    """A judge whose call failed past its retries (down, unreachable, rate limited, not found) is as unusable for
    the rest of the run as a model whose answer failed so: it used to be the next iteration's pick to answer, and
    the run waited out its retries again before falling back."""
    asked: list[tuple[str, str]] = []

    def fn(request: GenerationRequest) -> str:
        asked.append((request.purpose, request.model.name))
        if request.model.name == "function:b":
            raise _failure(kind)
        return '{"score": 3, "feedback": "try again"}' if request.purpose == "judge" else "an answer"

    # a answers first; b, the best judge of another quality, judges it and fails; b would answer next
    models = catalog("a", "b", "c", quality={"a": 9.9, "b": 9.5, "c": 8.0})
    models.update("function:c", input_cost_per_1k=0.01, output_cost_per_1k=0.01)  # (b is the cheaper judge)
    orch = Orchestrator(
        providers=[FunctionProvider(fn)], catalog=models, retry=NO_WAIT, router=BayesianRouter(explore=False)
    )
    result = await orch.run("What is six times seven?", max_iterations=3, patience=3)
    assert ("judge", "function:b") in asked
    assert ("generate", "function:b") not in asked, asked
    assert result.status == "completed" and len(result.orchestration.iterations) == 3
    assert [it.errors for it in result.orchestration.iterations] == [[], [], []]
    await orch.aclose()


async def test_a_judge_whose_verdict_could_not_be_read_judges_no_more_in_the_run() -> None:
    """docs/evaluation.md: a verdict without a usable score sets its judge aside (it was asked, and billed, again for
    every answer of the run, failing each time); the spare judge judges that answer and the run's next ones."""
    asked: list[tuple[int, str]] = []  # (answers so far, judge)
    answers: list[str] = []

    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            asked.append((len(answers), request.model.name))
            return "A fine answer." if request.model.name == "function:c" else '{"score": 3, "feedback": "more"}'
        answers.append(request.model.name)
        return f"an answer by {request.model.name}"

    models = catalog("a", "b", "c", "d", quality={"a": 9.9, "b": 9.0, "c": 8.0, "d": 8.0})
    models.update("function:c", judge_only=True, input_cost_per_1k=0.0001, output_cost_per_1k=0.0001)
    models.update("function:d", judge_only=True)
    orch = Orchestrator(
        providers=[FunctionProvider(fn)], catalog=models, retry=NO_WAIT, router=BayesianRouter(explore=False)
    )
    result = await orch.run("What is six times seven?", max_iterations=3, patience=3)
    assert result.status == "completed" and len(result.orchestration.iterations) == 3
    assert [n for n, judge in asked if judge == "function:c"] == [1]
    first, *rest = result.orchestration.iterations
    assert first.evaluation is not None and "function:c" not in first.evaluation.judge_models
    (failed,) = [v for v in first.evaluation.verdicts if v.judge_model == "function:c"]
    assert failed.score is None and failed.cost > 0 and (failed.error or "").endswith(SET_ASIDE)
    for it in rest:
        assert it.evaluation is not None and all(v.judge_model != "function:c" for v in it.evaluation.verdicts)
    await orch.aclose()


async def test_a_resumed_run_reads_which_judges_failed_so_as_the_live_run_did() -> None:
    """A judge whose call failed past its retries before the process died is neither asked to judge nor routed to by
    the run resuming it (its failure is on the iteration's verdicts, which the resumed run did not read)."""
    store = MemoryStore()
    asked: list[tuple[str, str]] = []
    dead = True

    def fn(request: GenerationRequest) -> str:
        asked.append((request.purpose, request.model.name))
        if request.model.name == "function:b":
            raise _failure(ProviderTimeout)
        if request.purpose == "judge":
            return '{"score": 3, "feedback": "try again"}'
        if dead and sum(purpose == "generate" for purpose, _ in asked) == 2:  # dies as the second answer is asked
            raise _Died
        return "an answer"

    def make() -> Orchestrator:
        models = catalog("a", "b", "c", "d", quality={"a": 9.9, "b": 9.5, "c": 8.0, "d": 7.9})
        models.update("function:c", input_cost_per_1k=0.01, output_cost_per_1k=0.01)  # (b is the cheaper judge)
        return Orchestrator(
            providers=[FunctionProvider(fn)],
            catalog=models,
            store=store,
            retry=NO_WAIT,
            router=BayesianRouter(explore=False),
            lease_ttl_s=0.2,
        )

    await store.open()
    session = await store.create_session(Session(user_id="alice", settings=SessionSettings()))
    with pytest.raises(_Died):
        await make().run("What is six times seven?", session=session, max_iterations=3, patience=3)
    assert ("judge", "function:b") in asked
    dead = False
    asked.clear()
    [result] = await make().resume_pending()
    assert result.status == "completed" and len(result.orchestration.iterations) == 3, result.error
    assert not [call for call in asked if call[1] == "function:b"], asked


def test_the_judge_failures_a_resumed_run_reads_are_those_the_live_run_acted_on() -> None:
    from orchestratex.orchestrator._failures import judge_failure_recorded

    assert judge_failure_recorded("ProviderTimeout: function:b timed out") == (True, True)
    assert judge_failure_recorded("AuthenticationError: 401 invalid key") == (True, True)
    assert judge_failure_recorded("ContextLengthExceeded: the judge prompt is too long") == (True, False)
    assert judge_failure_recorded("ProviderHTTPError: openai error (400): response_format") == (True, False)
    assert judge_failure_recorded(f"no score found in the judge's answer: 'A fine answer.'{SET_ASIDE}") == (
        True,
        False,
    )  # (judges no more, may answer)
    for said_nothing_of_the_model in (
        "no score found in the judge's answer: 'A fine answer.'",  # (a verdict recorded before it set its judge aside)
        "ContentFiltered: the provider refused the content",
        "EmptyAnswer: function:b answered nothing",
        "BudgetExceeded: a call may cost up to $0.1 but $0.05 is left",
        "EvaluationError: function:a wrote the answer being judged",
    ):
        assert judge_failure_recorded(said_nothing_of_the_model) == (False, False)


async def test_a_model_whose_judge_request_was_refused_as_a_bad_request_may_still_answer() -> None:
    """A 400 on a judge call may be the judge request's own (a JSON mode or judge setting its server does not take):
    the model judges no more in the run, but its answers are still asked for."""
    asked: list[tuple[str, str]] = []

    def fn(request: GenerationRequest) -> str:
        asked.append((request.purpose, request.model.name))
        if request.model.name == "function:b" and request.purpose == "judge":
            raise ProviderHTTPError("response_format is not supported", status_code=400)
        return '{"score": 3, "feedback": "try again"}' if request.purpose == "judge" else "an answer"

    models = catalog("a", "b", "c", quality={"a": 9.9, "b": 9.5, "c": 8.0})
    models.update("function:c", input_cost_per_1k=0.01, output_cost_per_1k=0.01)  # (b is the cheaper judge)
    orch = Orchestrator(
        providers=[FunctionProvider(fn)], catalog=models, retry=NO_WAIT, router=BayesianRouter(explore=False)
    )
    result = await orch.run("What is six times seven?", max_iterations=2, patience=3)
    assert result.status == "completed" and len(result.orchestration.iterations) == 2
    assert asked.count(("judge", "function:b")) == 1 and ("generate", "function:b") in asked, asked
    await orch.aclose()
