"""The orchestration loop (DESIGN §4) with function-served models."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import subprocess
import sys
import typing
from decimal import Decimal
from types import ModuleType

import pytest

from orchestratex import (
    EVENT_ADAPTER,
    BayesianRouter,
    FunctionProvider,
    Generation,
    GenerationRequest,
    LLMJudgeEvaluator,
    MemoryStore,
    Orchestrator,
    Router,
    RoutingDecision,
    Task,
    Usage,
    UserError,
)
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import (
    AuthenticationError,
    Conflict,
    ContentFiltered,
    ContextLengthExceeded,
    ProviderServerError,
    RateLimited,
    UnknownModelError,
)
from orchestratex.orchestrator import CircuitPolicy, RetryPolicy, RunOptions

from .helpers import NO_WAIT, answer_attempt, attempt_number, catalog, score_of_answer, scripted


def make(provider: FunctionProvider, *names: str, **kwargs: object) -> Orchestrator:
    kwargs.setdefault("retry", NO_WAIT)
    kwargs.setdefault("router", BayesianRouter(explore=False))
    return Orchestrator(providers=[provider], catalog=catalog(*names), **kwargs)  # type: ignore[arg-type]


def types(result: object) -> list[str]:
    return [e.type for e in result.events]  # type: ignore[attr-defined]


async def test_first_answer_good_enough_stops_at_threshold() -> None:
    orch = make(scripted(answer_attempt, score_of_answer({1: 9.0})), "a", "b")
    result = await orch.run("Write a haiku about the sea")
    assert result.stop_reason == "threshold"
    assert result.status == "completed"
    assert result.iterations == 1
    assert result.final_score == 9.0
    assert result.final_response is not None and result.final_response.endswith("attempt 1")
    assert types(result) == [
        "orchestration_started",
        "model_selected",
        "response_generated",
        "evaluation_completed",
        "orchestration_completed",
    ]
    assert [e.seq for e in result.events] == [1, 2, 3, 4, 5]
    assert result.events[-1].stop_reason == "threshold"  # type: ignore[union-attr]


async def test_refinement_carries_best_answer_and_feedback() -> None:
    prompts: list[str] = []

    def answers(request: GenerationRequest) -> str:
        prompts.append(request.messages[-1].content)
        return answer_attempt(request)

    orch = make(scripted(answers, score_of_answer({1: 6.0, 2: 7.0, 3: 9.0})), "a", "b")
    result = await orch.run("Explain recursion", evaluation_threshold=8.5, max_iterations=5)
    assert result.iterations == 3
    assert result.stop_reason == "threshold"
    assert result.final_score == 9.0
    assert "attempt 1" not in prompts[0]
    assert "scored 6.0/10" in prompts[1] and "attempt 1" in prompts[1] and "feedback from" in prompts[1]
    assert "scored 7.0/10" in prompts[2] and "Explain recursion" in prompts[2]


async def test_final_answer_is_the_best_not_the_last() -> None:
    orch = make(scripted(answer_attempt, score_of_answer({1: 7.0, 2: 8.0, 3: 6.0, 4: 5.0})), "a", "b")
    result = await orch.run("Summarise the report", evaluation_threshold=9.5, max_iterations=4)
    # attempt 3 refines the best answer (attempt 2), so it says "attempt 3"
    assert result.stop_reason in ("max_iterations", "no_improvement")
    assert result.final_score == 8.0
    assert result.final_response is not None and result.final_response.endswith("attempt 2")


async def test_no_improvement_stops_after_patience() -> None:
    orch = make(scripted(answer_attempt, score_of_answer({1: 7.0, 2: 6.0, 3: 6.5})), "a", "b")
    result = await orch.run("Summarise the report", evaluation_threshold=9.5, max_iterations=10)
    assert result.stop_reason == "no_improvement"
    assert result.iterations == 3
    assert result.final_score == 7.0


async def test_max_iterations_bounds_attempts() -> None:
    orch = make(scripted(answer_attempt, lambda r: 5.0 + attempt_number(r) * 0.1), "a", "b")
    result = await orch.run("Tell me a joke", evaluation_threshold=10, max_iterations=2)
    assert result.stop_reason == "max_iterations"
    assert result.iterations == 2


async def test_judge_is_never_the_generating_model() -> None:
    seen: list[tuple[str, str]] = []

    def scores(request: GenerationRequest) -> float:
        answer = request.messages[-1].content
        author = answer.split("answer by ")[1].split(",")[0]
        seen.append((author, request.model.name))
        return 6.0

    orch = make(scripted(answer_attempt, scores), "a", "b", "c", evaluator=LLMJudgeEvaluator(panel_size=2))
    await orch.run("Compare two databases", max_iterations=3, evaluation_threshold=9)
    assert seen
    assert all(author != judge for author, judge in seen)


async def test_panel_median_and_one_failing_judge_tolerated() -> None:
    def fn(request: GenerationRequest) -> str:
        if request.purpose != "judge":
            return "answer"
        name = request.model.name
        if name == "function:d":
            return "I refuse to give a score"
        return json.dumps({"score": {"function:b": 6.0, "function:c": 9.0}.get(name, 7.0), "feedback": name})

    q = {"a": 9.5, "b": 8.0, "c": 8.0, "d": 8.0}
    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=catalog("a", "b", "c", "d", quality=q),
        evaluator=LLMJudgeEvaluator(panel_size=3, judges=["function:b", "function:c", "function:d"]),
        retry=NO_WAIT,
    )
    result = await orch.run("Prove it", evaluation_threshold=7, max_iterations=1, preferred_models=["function:a"])
    evaluation = result.orchestration.iterations[0].evaluation
    assert evaluation is not None
    assert evaluation.score == 7.5  # median of 6 and 9; the unparseable judge is tolerated
    assert sorted(evaluation.judge_models) == ["function:b", "function:c"]
    assert [v.error is not None for v in evaluation.verdicts].count(True) == 1


async def test_no_parseable_verdict_fails_with_error() -> None:
    provider = FunctionProvider(lambda r: "no idea" if r.purpose == "judge" else "answer")
    result = await make(provider, "a", "b").run("Anything at all")
    assert result.status == "failed"
    assert result.stop_reason == "error"
    assert "no judge produced a verdict" in (result.orchestration.error or "")
    assert types(result)[-1] == "orchestration_failed"


async def test_rate_limit_is_retried_honouring_retry_after() -> None:
    waits: list[float] = []
    calls = {"n": 0}

    async def record(seconds: float) -> None:
        waits.append(seconds)

    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "fine"}'
        calls["n"] += 1
        if calls["n"] == 1:
            raise RateLimited("slow down", retry_after=2.5)
        return "answer"

    orch = make(FunctionProvider(fn), "a", "b", retry=RetryPolicy(max_attempts=3, initial_wait=0.1, sleep=record))
    result = await orch.run("Hello there")
    assert result.status == "completed"
    assert calls["n"] == 2
    assert waits == [2.5]


@pytest.mark.parametrize(
    "error",
    [
        RateLimited("Rate limit reached for tokens per day. Please try again in 7m12s.", retry_after=432),
        ProviderServerError("overloaded", status_code=529, retry_after=90),
    ],
)
async def test_a_retry_after_longer_than_the_policy_waits_falls_back_at_once(error: Exception) -> None:
    # a model asking to be called again in 7 minutes was waited for max_wait (30 s), asked again (429 again: too
    # early), waited for again and asked a third time: the run stalled a minute before it fell back to another
    # model, which it could have done at once; it does now
    waits: list[float] = []
    asked: list[str] = []

    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "ok"}'
        asked.append(request.model.name)
        if request.model.name == "function:a":
            raise error
        return "answer from b"

    q = {"a": 9.9, "b": 6.0, "c": 6.0}
    policy = RetryPolicy(max_attempts=3, initial_wait=0.1, max_wait=30, sleep=waits.append)
    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=catalog("a", "b", "c", quality=q),
        retry=policy,
        router=BayesianRouter(explore=False),  # (function:a, the favourite, is asked first: exploring, not always)
    )
    result = await orch.run("Hello there", max_iterations=1)
    assert result.status == "completed" and result.final_model != "function:a"
    assert asked.count("function:a") == 1 and waits == []
    waited = " (the provider asked to retry after 432 s)" if isinstance(error, RateLimited) else ""  # (`/v1` says it)
    assert result.orchestration.iterations[0].errors == [f"function:a: {type(error).__name__}: {error}{waited}"]


async def test_a_retry_after_the_waits_left_can_reach_is_still_waited_for() -> None:
    # 45 s: more than max_wait, but the two retries left can wait 60 s in all; a run of one model still gets its
    # answer (capped waits, as before)
    waits: list[float] = []
    calls = {"n": 0}

    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "ok"}'
        calls["n"] += 1
        if calls["n"] == 1:
            raise RateLimited("slow down", retry_after=45)
        return "answer"

    policy = RetryPolicy(max_attempts=3, initial_wait=0.1, max_wait=30, sleep=waits.append)
    orch = make(FunctionProvider(fn), "a", "b", retry=policy)
    result = await orch.run("Hello there", preferred_models=["function:a"], max_iterations=1)
    assert result.status == "completed" and result.final_model == "function:a"
    assert waits == [30]


async def test_retries_are_bounded_then_fallback_to_next_model() -> None:
    attempts: dict[str, int] = {}

    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "ok"}'
        attempts[request.model.name] = attempts.get(request.model.name, 0) + 1
        if request.model.name == "function:a":
            raise ProviderServerError("boom", status_code=503)
        return "answer from b"

    q = {"a": 9.9, "b": 6.0, "c": 6.0}
    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=catalog("a", "b", "c", quality=q),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    result = await orch.run("Hello there", max_iterations=1)
    assert attempts["function:a"] == 3  # NO_WAIT allows 3 attempts
    assert result.final_model in ("function:b", "function:c")
    it = result.orchestration.iterations[0]
    assert it.errors and it.errors[0].startswith("function:a: ProviderServerError")
    selected = [e for e in result.events if e.type == "model_selected"]
    assert len(selected) == 2 and "fallback after function:a failed" in selected[1].reasoning


async def test_authentication_error_is_not_retried() -> None:
    attempts = {"n": 0}

    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "ok"}'
        if request.model.name == "keyed:a":
            attempts["n"] += 1
            raise AuthenticationError("bad key: set KEYED_API_KEY", status_code=401)
        return "fine"

    keyed = ModelProfile(
        name="keyed:a", input_cost_per_1k=0.001, output_cost_per_1k=0.001, context_window=100_000, quality=9.9
    )
    orch = Orchestrator(
        providers=[FunctionProvider(fn), FunctionProvider(fn, name="keyed")],
        catalog=ModelCatalog([keyed, *catalog("b", "c", quality={"b": 6.0, "c": 6.0})]),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    result = await orch.run("Hello there", max_iterations=1)
    assert attempts["n"] == 1
    assert result.status == "completed"


async def test_context_length_falls_back_to_a_larger_window() -> None:
    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "ok"}'
        if request.model.context_window < 50_000:
            raise ContextLengthExceeded("too long", status_code=400)
        return f"answered by {request.model.name}"

    models = [
        ModelProfile(name="function:small", cost_per_1k_tokens=0.001, context_window=10_000, quality=9.9),
        ModelProfile(name="function:mid", cost_per_1k_tokens=0.001, context_window=8_000, quality=9.5),
        ModelProfile(name="function:big", cost_per_1k_tokens=0.001, context_window=100_000, quality=6.0),
        ModelProfile(name="function:judge", cost_per_1k_tokens=0.001, context_window=100_000, quality=5.0),
    ]
    from orchestratex import ModelCatalog

    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=ModelCatalog(models),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    result = await orch.run("Hello there", max_iterations=1, max_output_tokens=500)
    assert result.final_model in ("function:big", "function:judge")
    errors = result.orchestration.iterations[0].errors
    assert len(errors) == 1 and "ContextLengthExceeded" in errors[0]  # mid (an even smaller window) was skipped


async def test_content_filter_is_recorded_and_falls_back() -> None:
    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "ok"}'
        if request.model.name == "function:a":
            raise ContentFiltered("blocked by safety system", status_code=400)
        return "fine"

    q = {"a": 9.9, "b": 6.0, "c": 6.0}
    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=catalog("a", "b", "c", quality=q),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    result = await orch.run("Hello there", max_iterations=1)
    assert "ContentFiltered" in result.orchestration.iterations[0].errors[0]
    assert result.status == "completed"


async def test_an_answer_a_content_filter_withheld_is_counted_at_what_it_was_billed() -> None:
    # a refusal (Anthropic's stop_reason "refusal", OpenAI's finish_reason "content_filter", Gemini's SAFETY) comes
    # with the usage the vendor bills, and was counted at $0: the run's total, the session's and the limit missed it
    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "ok"}'
        if request.model.name == "function:a":
            raise ContentFiltered(
                "Claude declined to answer: refusal", status_code=200, usage=Usage(input_tokens=20, output_tokens=400)
            )
        return "fine"

    models = catalog("a", "b", "c", quality={"a": 9.9, "b": 6.0, "c": 6.0})
    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=models,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        judges=["function:c"],  # (function:a's calls are then its refused answer alone)
    )
    result = await orch.run("Hello there", max_iterations=1, cost_limit=1.0)
    assert result.status == "completed"
    first = result.orchestration.iterations[0]
    assert "ContentFiltered" in first.errors[0]
    refused = models.get("function:a").cost(Usage(input_tokens=20, output_tokens=400))
    assert refused > 0
    analytics = await orch.store.session_analytics(result.orchestration.session_id)
    by_model = {m.model_name: m for m in analytics.models}
    assert by_model["function:a"].cost == pytest.approx(refused, abs=1e-12)
    assert by_model["function:a"].errors == 1
    assert result.total_cost == pytest.approx(sum(m.cost for m in analytics.models), abs=1e-12)
    assert result.total_cost > refused
    session = await orch.store.get_session(result.orchestration.session_id)
    assert session.total_cost == pytest.approx(result.total_cost, abs=1e-12)


async def test_circuit_opens_after_repeated_failures() -> None:
    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "ok"}'
        if request.model.name == "function:a":
            raise ProviderServerError("down", status_code=500)
        return "fine"

    q = {"a": 9.9, "b": 6.0, "c": 6.0}
    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=catalog("a", "b", "c", quality=q),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        circuit=CircuitPolicy(failure_threshold=3, cooldown_s=60),
    )
    await orch.run("first", max_iterations=1)
    assert orch.model_status("function:a") == "circuit_open"
    result = await orch.run("second", max_iterations=1)
    # the open circuit keeps the failing model out of routing: no error recorded this time
    assert result.orchestration.iterations[0].errors == []


async def test_a_refused_key_opens_the_models_circuit_at_once() -> None:
    # a refused key failed one call a run, and each run asked that model again until five runs had opened its circuit
    # (then again after each cool-down): with a gateway's key refused for several models, every run began with as many
    # failed calls
    calls: list[str] = []

    def fn(request: GenerationRequest) -> str:
        calls.append(request.model.name)
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "ok"}'
        if request.model.name == "function:a":
            raise AuthenticationError(
                "function refused the key (401): key not allowed to access this model", status_code=401
            )
        return "fine"

    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=catalog("a", "b", "c", quality={"a": 9.9, "b": 6.0, "c": 6.0}),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    first = await orch.run("first", max_iterations=1)
    assert first.status == "completed" and first.final_model != "function:a"
    assert orch.model_status("function:a") == "circuit_open"  # (after one refusal; the other models are not)
    assert orch.model_status("function:b") == orch.model_status("function:c") == "active"
    calls.clear()
    second = await orch.run("second", max_iterations=1)
    assert second.status == "completed"
    assert "function:a" not in calls and second.orchestration.iterations[0].errors == []


@pytest.mark.parametrize("trial_ends", ["cancelled", "prompt too long"])
async def test_a_trial_call_that_says_nothing_of_the_model_does_not_shut_it_out(trial_ends: str) -> None:
    """A half-open circuit lets one trial call through. A trial that ended without a verdict on the model — its
    run cancelled while the model answered (a client gone, `cancel(id)`), or a prompt too long for it — used to
    leave the circuit waiting for that verdict forever: the model never got another call from this orchestrator
    (and `model_status` said `circuit_half_open` for good). The next call is now the trial."""
    state = {"a": "down"}
    answering = asyncio.Event()

    async def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "ok"}'
        if request.model.name == "function:a":
            if state["a"] == "down":
                raise ProviderServerError("down", status_code=503)
            if state["a"] == "slow":
                answering.set()
                await asyncio.Event().wait()
            if state["a"] == "small":
                raise ContextLengthExceeded("too long for a", status_code=400)
        return "fine"

    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=catalog("a", "b", "c", quality={"a": 9.9, "b": 6.0, "c": 6.0}),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        circuit=CircuitPolicy(failure_threshold=1, cooldown_s=0),  # (half-open as soon as it opens)
    )
    first = await orch.run("first", max_iterations=1)
    assert first.orchestration.iterations[0].errors[0].startswith("function:a: ProviderServerError")
    assert orch.model_status("function:a") == "circuit_half_open"
    if trial_ends == "cancelled":
        state["a"] = "slow"
        run = asyncio.create_task(orch.run("second", max_iterations=1))
        await answering.wait()
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    else:
        state["a"] = "small"
        second = await orch.run("second", max_iterations=1)
        assert second.orchestration.iterations[0].errors[0].startswith("function:a: ContextLengthExceeded")
    state["a"] = "up"
    third = await orch.run("third", max_iterations=1)
    assert [it.model_name for it in third.orchestration.iterations] == ["function:a"]
    assert third.orchestration.iterations[0].errors == []
    assert orch.model_status("function:a") == "active"  # the trial succeeded: the circuit is closed
    await orch.aclose()


async def test_all_models_failing_ends_with_error() -> None:
    def fn(request: GenerationRequest) -> str:
        raise ProviderServerError("down", status_code=500)

    result = await make(FunctionProvider(fn), "a", "b").run("Hello")
    assert result.status == "failed"
    assert result.stop_reason == "error"
    assert types(result)[-1] == "orchestration_failed"


async def test_budget_is_never_exceeded_and_stops_with_budget() -> None:
    # each call reserves its worst case: input bytes + its output cap (up to 1000 tokens) at $0.001/1k
    orch = make(scripted(answer_attempt, lambda r: 5.0), "a", "b", max_output_tokens=1000)
    result = await orch.run("Hello", cost_limit=0.006, evaluation_threshold=10, max_iterations=50, patience=50)
    assert result.stop_reason == "budget"
    assert result.total_cost <= 0.006
    session = await orch.store.get_session(result.orchestration.session_id)
    assert session.total_cost == result.total_cost
    assert session.reserved_cost == 0


async def test_budget_too_small_for_any_call_fails_before_calling() -> None:
    calls = {"n": 0}

    def fn(request: GenerationRequest) -> str:
        calls["n"] += 1
        return "x"

    result = await make(FunctionProvider(fn), "a", "b").run("Hello", cost_limit=0.0000001)
    assert calls["n"] == 0
    assert result.status == "failed" and result.stop_reason == "budget"
    assert result.total_cost == 0


async def test_session_budget_is_shared_by_its_orchestrations() -> None:
    orch = make(scripted(answer_attempt, lambda r: 9.0), "a", "b", max_output_tokens=1000)
    session = await orch.create_session("alice", cost_limit=0.003)
    results = await asyncio.gather(*(orch.run("Hello", session=session) for _ in range(30)))
    spent = sum(r.total_cost for r in results)
    stored = await orch.store.get_session(session.id)
    assert spent <= 0.003
    assert stored.total_cost == pytest.approx(spent, abs=1e-12)
    assert any(r.status == "completed" for r in results)  # (each answer and its judging cost about $0.00016)
    assert any(r.stop_reason == "budget" for r in results)


async def test_costs_are_exact_from_catalog_prices() -> None:
    def fn(request: GenerationRequest) -> Generation | str:
        if request.purpose == "judge":
            return Generation(text='{"score": 9, "feedback": "ok"}', usage=Usage(input_tokens=100, output_tokens=10))
        return Generation(text="answer", usage=Usage(input_tokens=1000, output_tokens=500, cached_input_tokens=200))

    from orchestratex import ModelCatalog

    models = [
        ModelProfile(
            name="function:gen",
            input_cost_per_1k=0.003,
            output_cost_per_1k=0.015,
            cached_input_cost_per_1k=0.0003,
            quality=9.5,
        ),
        ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.005, quality=5.0),
    ]
    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=ModelCatalog(models),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    result = await orch.run("Hello", preferred_models=["function:gen"])
    it = result.orchestration.iterations[0]
    assert it.cost == 0.00996  # 800*0.003/1000 + 200*0.0003/1000 + 500*0.015/1000
    assert it.evaluation is not None and it.evaluation.cost == 0.00015  # 100*0.001/1000 + 10*0.005/1000
    assert result.total_cost == 0.01011


async def test_failing_event_handler_never_breaks_the_run(caplog: pytest.LogCaptureFixture) -> None:
    received: list[str] = []

    def broken(event: object) -> None:
        raise RuntimeError("handler bug")

    async def collector(event: object) -> None:
        received.append(event.type)  # type: ignore[attr-defined]

    orch = make(scripted(answer_attempt, lambda r: 9.0), "a", "b", on_event=[broken])
    result = await orch.run("Hello", on_event=collector)
    assert result.status == "completed"
    assert received == types(result)
    assert "handler bug" in caplog.text


async def test_a_handler_raising_cancelled_error_of_its_own_does_not_cancel_the_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    received: list[str] = []

    async def awaits_something_cancelled(event: object) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.cancel()
        await future  # raises CancelledError: the handler's, not the run's

    orch = make(scripted(answer_attempt, lambda r: 9.0), "a", "b")
    result = await orch.run("Hello", on_event=[awaits_something_cancelled, lambda e: received.append(e.type)])
    assert result.status == "completed"
    assert received == types(result)  # the handlers after it got every event
    assert "was cancelled on orchestration_started" in caplog.text


async def test_cancellation_ends_with_cancelled() -> None:
    started = asyncio.Event()

    async def slow(request: GenerationRequest) -> str:
        started.set()
        await asyncio.sleep(30)
        return "never"

    orch = make(FunctionProvider(slow), "a", "b")
    doc = await orch.prepare("Hello")
    task = orch.start(doc)
    await started.wait()
    assert await orch.cancel(doc.id)
    assert task.cancelled()
    stored = await orch.store.get_orchestration(doc.id)
    assert stored.status == "cancelled" and stored.stop_reason == "cancelled"
    events = await orch.store.list_events(doc.session_id, orchestration_id=doc.id)
    assert events[-1].type == "orchestration_failed" and events[-1].reason == "cancelled"


async def test_preferred_models_restrict_routing() -> None:
    chosen: list[str] = []

    def answers(request: GenerationRequest) -> str:
        chosen.append(request.model.name)
        return "x"

    orch = make(scripted(answers, lambda r: 9.0), "a", "b", "c")
    await orch.run("Hello", preferred_models=["function:c"])
    assert chosen == ["function:c"]


async def test_router_choosing_outside_candidates_is_an_error() -> None:
    class Rogue(Router):
        async def select(self, task: Task, candidates: object) -> RoutingDecision:
            return RoutingDecision(model_name="function:zzz", reasoning="because")

    orch = make(scripted(answer_attempt, lambda r: 9.0), "a", "b", router=Rogue())
    result = await orch.run("Hello")
    assert result.stop_reason == "error"
    assert "not among the candidates" in (result.orchestration.error or "")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prompt": "   "}, "prompt is empty"),
        ({"evaluation_threshold": 11}, "evaluation_threshold"),
        ({"max_iterations": 0}, "max_iterations"),
        ({"cost_limit": -1.0}, "cost_limit"),
        ({"preferred_models": []}, "preferred_models is empty"),
    ],
)
async def test_bad_input_is_a_clear_user_error(options: dict[str, object], message: str) -> None:
    orch = make(scripted(answer_attempt, lambda r: 9.0), "a", "b")
    prompt = options.pop("prompt", "Hello")
    with pytest.raises(UserError, match=message):
        await orch.run(prompt, **options)  # type: ignore[arg-type]


async def test_unknown_model_names_the_known_ones() -> None:
    orch = make(scripted(answer_attempt, lambda r: 9.0), "a", "b")
    with pytest.raises(UnknownModelError, match="function:a"):
        await orch.run("Hello", preferred_models=["gpt-17"])


async def test_simulator_is_the_default_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    orch = Orchestrator()
    assert orch.simulated
    assert all(m.provider == "sim" for m in orch.catalog)
    result = await orch.run("Write a Python function to calculate fibonacci numbers")
    assert result.simulated
    assert result.events[0].simulated  # type: ignore[union-attr]
    assert "simulated" in (result.final_response or "").lower()
    assert orch.catalog.get("gpt4").name == "sim:gpt-4.1"


def test_run_sync_outside_and_inside_an_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    orch = make(scripted(answer_attempt, lambda r: 9.0), "a", "b")
    assert orch.run_sync("Hello").status == "completed"

    assert orch.run_sync("Hello again").status == "completed"  # the same orchestrator, its loop kept

    async def inside() -> None:
        with pytest.raises(UserError, match=r"running event loop.*await orchestrator\.run"):
            orch.run_sync("Hello")

    asyncio.run(inside())
    orch.close()


def test_run_sync_blocks_the_cell_in_an_ipython_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Jupyter kernel runs every cell inside its event loop; there `run_sync` blocks the cell, as any synchronous
    call does, instead of refusing (tests/test_notebook.py runs a real kernel)."""
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    shell = ModuleType("IPython")
    shell.get_ipython = lambda: object()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", shell)
    orch = make(scripted(answer_attempt, lambda r: 9.0), "a", "b")

    async def cell() -> list[str]:
        return [orch.run_sync("Hello").status, orch.run_sync("Hello again").status]

    assert asyncio.run(cell()) == ["completed", "completed"]
    assert asyncio.run(orch.run("And awaited")).status == "completed"
    assert orch.run_sync("And sync again").status == "completed"
    orch.close()


def test_a_script_using_run_sync_exits_without_a_word_on_stderr() -> None:
    script = (
        "from orchestratex import Orchestrator\n"
        "o = Orchestrator(simulate=True)\n"
        "print(o.run_sync('Explain TCP', max_iterations=1).status)\n"
        "print(o.run_sync('Explain UDP', max_iterations=1).status)\n"  # never closed: left to exit
    )
    env = {**os.environ, "ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["completed", "completed"]
    assert done.stderr == ""  # no "Task was destroyed but it is pending!" from the loop's lease keeper


async def test_events_are_persisted_and_parse_back() -> None:
    store = MemoryStore()
    orch = make(scripted(answer_attempt, score_of_answer({1: 6.0, 2: 9.0})), "a", "b", store=store)
    result = await orch.run("Hello", evaluation_threshold=8)
    stored = await store.list_events(result.orchestration.session_id)
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    for event in stored:
        assert EVENT_ADAPTER.validate_json(EVENT_ADAPTER.dump_json(event)) == event


async def test_router_learns_from_evaluations() -> None:
    orch = make(scripted(answer_attempt, lambda r: 9.0), "a", "b")
    await orch.run("Write a Python function", domain="coding")
    stats = await orch.store.routing_stats("bayesian")
    assert len(stats) == 1 and stats[0].domain == "coding" and stats[0].score_sum == 9.0


async def test_judges_draw_on_the_budget_reserved_with_the_generation() -> None:
    class Counting(MemoryStore):
        reserves = 0

        async def reserve_budget(self, session_id: str, orchestration_id: str, amount: float) -> bool:
            Counting.reserves += 1
            return await super().reserve_budget(session_id, orchestration_id, amount)

    store = Counting()
    orch = make(scripted(answer_attempt, score_of_answer({1: 6.0, 2: 9.0})), "a", "b", store=store)
    result = await orch.run("Hello", cost_limit=1.0, evaluation_threshold=8)
    assert result.iterations == 2
    assert Counting.reserves == 2  # one per iteration: the generation and its judge together
    session = await store.get_session(result.orchestration.session_id)
    assert session.reserved_cost == 0 and session.total_cost == result.total_cost


async def test_resume_keeps_models_that_failed_before_the_crash_out() -> None:
    from orchestratex import Evaluation, Iteration, Orchestration, Thread

    called: list[str] = []

    def answers(request: GenerationRequest) -> str:
        called.append(request.model.name)
        return answer_attempt(request)

    orch = make(scripted(answers, lambda r: 9.0), "a", "b", "c")
    session = await orch.create_session("bob")
    thread = await orch.store.create_thread(Thread(session_id=session.id, user_id="bob", original_prompt="Hello"))
    doc = Orchestration(
        thread_id=thread.id,
        session_id=session.id,
        user_id="bob",
        prompt="Hello",
        domain="general",
        status="running",
        iterations=[
            Iteration(
                index=1,
                model_name="function:b",
                prompt="Hello",
                phase="evaluated",
                response="answer by function:b, attempt 1",
                evaluation=Evaluation(score=5.0, feedback="more", judge_models=["function:c"]),
                errors=["function:a: ProviderServerError: boom"],
            )
        ],
    )
    await orch.store.create_orchestration(doc)
    result = await orch.drive(doc.id)
    assert result.status == "completed" and result.iterations == 2
    assert "function:a" not in called


async def test_a_run_that_stops_during_a_fallback_releases_its_reservation() -> None:
    class FirstThenRogue(Router):
        calls = 0

        async def select(self, task: Task, candidates: object) -> RoutingDecision:
            FirstThenRogue.calls += 1
            name = "function:a" if FirstThenRogue.calls == 1 else "function:nope"
            return RoutingDecision(model_name=name, reasoning="scripted")

    def fn(request: GenerationRequest) -> str:
        raise ProviderServerError("down", status_code=500)

    orch = make(FunctionProvider(fn), "a", "b", "c", router=FirstThenRogue())  # "c" can judge "b"
    result = await orch.run("Hello", cost_limit=1.0)
    assert result.stop_reason == "error" and "not among the candidates" in (result.orchestration.error or "")
    session = await orch.store.get_session(result.orchestration.session_id)
    assert session.reserved_cost == 0 and session.total_cost == 0


async def test_cancelling_during_judging_releases_reservations_and_counts_what_was_spent() -> None:
    judging = asyncio.Event()

    async def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            judging.set()
            await asyncio.sleep(30)
        return "answer"

    orch = make(FunctionProvider(fn), "a", "b")
    doc = await orch.prepare("Hello", cost_limit=1.0)
    task = orch.start(doc)
    await judging.wait()
    assert await orch.cancel(doc.id)
    stored = await orch.store.get_orchestration(doc.id)
    session = await orch.store.get_session(doc.session_id)
    assert stored.status == "cancelled"
    assert session.reserved_cost == 0
    assert stored.total_cost == session.total_cost == stored.iterations[0].cost > 0
    assert task.cancelled()


async def test_a_cancellation_while_a_commit_is_in_flight_counts_its_cost_once() -> None:
    applied = asyncio.Event()

    class SlowAfterCommit(MemoryStore):
        """Applies a commit, then keeps the caller waiting (as a store whose reply is slow would)."""

        async def commit(self, orchestration, events=(), **kwargs):  # type: ignore[no-untyped-def]
            result = await super().commit(orchestration, events, **kwargs)
            if any(e.type == "evaluation_completed" for e in events) and not applied.is_set():
                applied.set()
                await asyncio.sleep(30)
            return result

    store = SlowAfterCommit()
    orch = make(scripted(answer_attempt, lambda r: 5.0), "a", "b", store=store)
    doc = await orch.prepare("Hello", cost_limit=1.0, evaluation_threshold=9.5)
    orch.start(doc)
    await applied.wait()
    assert await orch.cancel(doc.id)
    stored = await store.get_orchestration(doc.id)
    session = await store.get_session(doc.session_id)
    it = stored.iterations[0]
    assert it.evaluation is not None
    assert stored.total_cost == session.total_cost == pytest.approx(it.cost + it.evaluation.cost, abs=1e-12)
    assert session.reserved_cost == 0


async def test_suspend_hands_a_run_back_for_any_process_to_resume() -> None:
    generating = asyncio.Event()
    slow = {"on": True}

    async def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": 6.0 if "attempt 1" in request.messages[-1].content else 9.0, "feedback": "x"})
        if slow["on"] and "scored" in request.messages[-1].content:  # the second attempt hangs
            generating.set()
            await asyncio.sleep(30)
        return answer_attempt(request)

    store = MemoryStore()
    first = make(FunctionProvider(fn), "a", "b", store=store)
    doc = await first.prepare("Hello", cost_limit=1.0, evaluation_threshold=8)
    first.start(doc)
    await generating.wait()
    assert await first.suspend(doc.id)

    stored = await store.get_orchestration(doc.id)
    session = await store.get_session(doc.session_id)
    assert stored.status == "running" and stored.stop_reason is None
    assert session.reserved_cost == 0
    assert doc.id in await store.list_resumable()  # the lease was given up
    types_before = [e.type for e in await store.list_events(doc.session_id)]
    assert "orchestration_failed" not in types_before

    slow["on"] = False
    second = make(FunctionProvider(fn), "a", "b", store=store)
    [result] = await second.resume_pending()
    assert result.status == "completed" and result.final_score == 9.0
    events = await store.list_events(doc.session_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events].count("orchestration_started") == 1
    assert (await store.get_session(doc.session_id)).total_cost == result.total_cost


def test_run_options_are_exactly_the_keyword_options_of_prepare() -> None:
    """`run(**options)` and `run_sync(**options)` are typed by `RunOptions`: it must not drift from `prepare`."""
    prepare = typing.get_type_hints(Orchestrator.prepare)
    drive = typing.get_type_hints(Orchestrator.drive)
    keyword = [n for n, p in inspect.signature(Orchestrator.prepare).parameters.items() if p.kind is p.KEYWORD_ONLY]
    options = typing.get_type_hints(RunOptions)
    assert list(options) == ["on_event", *keyword]
    assert options["on_event"] == drive["on_event"]
    assert all(options[name] == prepare[name] for name in keyword)


async def test_one_orchestrator_drives_an_orchestration_once_at_a_time() -> None:
    release = asyncio.Event()

    async def fn(request: GenerationRequest) -> str:
        await release.wait()
        return '{"score": 9, "feedback": "ok"}' if request.purpose == "judge" else "an answer"

    async with make(FunctionProvider(fn), "a", "b") as orch:
        doc = await orch.prepare("Hello", max_iterations=1)
        first = orch.start(doc)
        await asyncio.sleep(0.01)
        with pytest.raises(Conflict, match="already being run by this orchestrator"):
            await orch.drive(doc.id)
        release.set()
        assert (await first).status == "completed"
        again = await orch.drive(doc.id)  # ended: its stored result, not a second run
        assert again.status == "completed" and [e.type for e in again.events].count("orchestration_started") == 1


async def test_starting_a_run_twice_leaves_the_first_one_cancellable() -> None:
    started = asyncio.Event()

    async def slow(request: GenerationRequest) -> str:
        started.set()
        await asyncio.sleep(30)
        return "never"

    orch = make(FunctionProvider(slow), "a", "b")
    doc = await orch.prepare("Hello")
    first = orch.start(doc)
    second = orch.start(doc)
    with pytest.raises(Conflict, match="already being run"):
        await second
    await started.wait()
    assert await orch.cancel(doc.id)  # the run under way, not the start that was refused
    assert first.cancelled()
    assert (await orch.store.get_orchestration(doc.id)).status == "cancelled"


@pytest.mark.parametrize("option", ["cost_limit", "evaluation_threshold"])
async def test_a_nan_setting_is_refused_as_not_a_number(option: str) -> None:
    """`cost_limit=nan` was refused as "Input should be less than or equal to 1000000", which says nothing of
    what was wrong."""
    orch = make(scripted(answer_attempt, score_of_answer({1: 9.0})), "a", "b")
    with pytest.raises(UserError, match=rf"^{option} must be a number, not NaN$"):
        await orch.run("Hello", **{option: float("nan")})  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"^cost_limit must be a number, not NaN$"):
        await orch.create_session("u", cost_limit=float("nan"))


@pytest.mark.parametrize("option", ["cost_limit", "evaluation_threshold", "max_iterations"])
async def test_a_nan_of_numpy_float32_or_decimal_is_refused_as_not_a_number(option: str) -> None:
    """A NaN of another numeric type (a float32 column of a pandas frame, `Decimal("NaN")`) said "cost_limit: Input
    should be less than or equal to 1000000" (or "max_iterations: Input should be a finite number"), while a float
    NaN says what is wrong."""
    import numpy as np

    orch = make(scripted(answer_attempt, score_of_answer({1: 9.0})), "a", "b")
    for nan in (np.float32("nan"), Decimal("NaN")):
        with pytest.raises(UserError, match=rf"^{option} must be a number, not NaN$"):
            await orch.run("Hello", **{option: nan})  # type: ignore[arg-type]
        with pytest.raises(UserError, match=rf"^{option} must be a number, not NaN$"):
            if option == "cost_limit":
                await orch.create_session("u", cost_limit=nan)  # type: ignore[arg-type]
            else:
                Orchestrator(simulate=True, **{option: nan})  # type: ignore[arg-type]
    assert await orch.store.list_orchestrations() == []  # nothing stored
