"""Retries stop once the model's circuit opens: a retry is not made to a model the circuit keeps out."""

from __future__ import annotations

import logging

import pytest

from orchestratex import FunctionProvider, GenerationRequest, Orchestrator
from orchestratex.exceptions import ProviderServerError
from orchestratex.orchestrator import CircuitPolicy, RetryPolicy
from orchestratex.routing import BayesianRouter

from ..helpers import catalog


def _failing_a(calls: list[str]) -> FunctionProvider:
    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "ok"}'
        calls.append(request.model.name)
        if request.model.name == "function:a":
            raise ProviderServerError("down", status_code=503)
        return "fine"

    return FunctionProvider(fn)


async def test_the_retries_stop_when_the_calls_own_failures_open_the_circuit(caplog: pytest.LogCaptureFixture) -> None:
    """Five attempts allowed, the circuit opens after two failures in a row: the third attempt went to a model the
    circuit already kept out (and the run waited for it); the run now falls back after the second, and says it
    retries only the once it does."""
    calls: list[str] = []
    waits: list[float] = []
    orch = Orchestrator(
        providers=[_failing_a(calls)],
        catalog=catalog("a", "b", "c", quality={"a": 9.9, "b": 6.0, "c": 5.0}),
        retry=RetryPolicy(max_attempts=5, initial_wait=0.01, sleep=waits.append),
        router=BayesianRouter(explore=False),
        circuit=CircuitPolicy(failure_threshold=2, cooldown_s=60),
    )
    with caplog.at_level(logging.INFO, logger="orchestratex.orchestrator"):
        result = await orch.run("Hello there", max_iterations=1)
    assert calls == ["function:a", "function:a", "function:b"]
    assert [r.getMessage().partition("; ")[2] for r in caplog.records if "retrying" in r.getMessage()] == [
        f"retrying in 0.0 s (attempt 2 of 5) for orchestration {result.orchestration.id}"
    ]
    assert len(waits) == 1  # (no wait for an attempt that is not made)
    assert result.status == "completed"
    assert result.orchestration.iterations[0].model_name == "function:b"
    assert result.orchestration.iterations[0].errors[0].startswith("function:a: ProviderServerError")
    assert orch.model_status("function:a") == "circuit_open"
    await orch.aclose()


async def test_a_retry_is_not_made_once_other_runs_opened_the_circuit_during_its_wait() -> None:
    """While this call waited to retry, other runs' failures opened the model's circuit: the retry is not made."""
    calls: list[str] = []
    orch: Orchestrator

    def other_runs_fail(seconds: float) -> None:
        for _ in range(3):
            orch.circuit.record_failure("function:a")

    orch = Orchestrator(
        providers=[_failing_a(calls)],
        catalog=catalog("a", "b", "c", quality={"a": 9.9, "b": 6.0, "c": 5.0}),
        retry=RetryPolicy(max_attempts=3, initial_wait=0.01, sleep=other_runs_fail),
        router=BayesianRouter(explore=False),
        circuit=CircuitPolicy(failure_threshold=3, cooldown_s=60),
    )
    result = await orch.run("Hello there", max_iterations=1)
    assert calls == ["function:a", "function:b"]
    assert result.orchestration.iterations[0].model_name == "function:b"
    await orch.aclose()


async def test_retries_go_on_while_the_circuit_stays_closed() -> None:
    calls: list[str] = []
    orch = Orchestrator(
        providers=[_failing_a(calls)],
        catalog=catalog("a", "b", "c", quality={"a": 9.9, "b": 6.0, "c": 5.0}),
        retry=RetryPolicy(max_attempts=3, initial_wait=0, max_wait=0),
        router=BayesianRouter(explore=False),
        circuit=CircuitPolicy(failure_threshold=5, cooldown_s=60),
    )
    await orch.run("Hello there", max_iterations=1)
    assert calls == ["function:a"] * 3 + ["function:b"]
    await orch.aclose()


async def test_a_recovering_model_gets_one_trial_call_when_two_runs_waited_for_the_sessions_budget(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Model `a` is recovering (its circuit half-open: one trial call at a time). Two runs of one session picked it
    while a third run held the session's budget; both passed the circuit's check, waited for the budget, then both
    called `a`: two trial calls of a model just seen failing. The second now falls back to another model."""
    import asyncio

    from orchestratex import ModelCatalog, ModelProfile

    models = ModelCatalog(
        [
            ModelProfile(name="function:a", input_cost_per_1k=0.01, output_cost_per_1k=0.01, quality=9.0),
            ModelProfile(name="function:b", input_cost_per_1k=0.01, output_cost_per_1k=0.01, quality=5.0),
            ModelProfile(name="function:hold", input_cost_per_1k=0.1, output_cost_per_1k=0.1, quality=1.0),
            ModelProfile(name="function:j", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, judge_only=True),
        ]
    )
    failing, held, released = [True], asyncio.Event(), asyncio.Event()
    in_flight, most, trials = [0], [0], []

    async def fn(request: GenerationRequest) -> str:
        name = request.model.name
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "ok"}'
        if name == "function:hold":
            held.set()
            await released.wait()
        elif name == "function:a":
            if failing[0]:
                raise ProviderServerError("down", status_code=503)
            trials.append(name)
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
            if in_flight[0] == 1:
                await released_a.wait()  # until the other run's call is made (to `a` or, fixed, to `b`)
            released_a.set()
            in_flight[0] -= 1
        elif name == "function:b" and "warm" not in request.messages[-1].content:
            released_a.set()
        return "fine"

    released_a = asyncio.Event()
    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=models,
        retry=RetryPolicy(max_attempts=1),
        router=BayesianRouter(explore=False),
        circuit=CircuitPolicy(failure_threshold=1, cooldown_s=0),  # half-open as soon as it fails
        judges=["function:j"],  # (a judge call to `a` would be its trial)
        reservation_wait_s=600,
    )
    async with orch:
        warm = await orch.run("warm up", max_iterations=1, preferred_models=["function:a", "function:b"])
        assert warm.orchestration.iterations[0].errors[0].startswith("function:a: ProviderServerError")
        assert orch.circuit.state("function:a") == "half_open"
        failing[0] = False
        session = await orch.create_session(cost_limit=0.105)  # the third run's $0.102 leaves too little for `a`
        holder = asyncio.create_task(
            orch.run("hold", session=session, max_iterations=1, preferred_models=["function:hold"])
        )
        await held.wait()
        pair = ["function:a", "function:b"]
        runs = [
            asyncio.create_task(orch.run(f"question {n}", session=session, max_iterations=1, preferred_models=pair))
            for n in (1, 2)
        ]
        with caplog.at_level(logging.INFO, logger="orchestratex.orchestrator"):
            while sum("waiting up to" in r.getMessage() for r in caplog.records) < 2:  # both wait for the holder
                await asyncio.sleep(0.01)
        released.set()
        results = await asyncio.wait_for(asyncio.gather(holder, *runs), 60)
    assert [r.status for r in results] == ["completed"] * 3, [r.error for r in results]
    assert most[0] == 1 and trials == ["function:a"]
    assert sorted(str(r.final_model) for r in results[1:]) == ["function:a", "function:b"]
    second = next(r for r in results[1:] if r.final_model == "function:b")
    assert second.orchestration.iterations[0].errors[0].startswith("function:a: CircuitOpen")


async def test_prompts_a_model_refuses_on_content_grounds_do_not_open_its_circuit() -> None:
    """A content-filter refusal says the prompt was refused, not that the model is failing: a few such prompts in a
    row (a user's batch of flagged texts) opened the model's circuit, and every run of every user was kept from a
    healthy model for the cool-down. The refusals fall back as before; the next prompt is answered by the model."""
    from orchestratex.exceptions import ContentFiltered

    answered: list[str] = []

    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "ok"}'
        if request.model.name == "function:a" and "flagged" in request.messages[-1].content:
            raise ContentFiltered("the prompt was refused by the content filter", status_code=400)
        answered.append(request.model.name)
        return "fine"

    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=catalog("a", "b", "c", quality={"a": 9.9, "b": 6.0, "c": 5.0}),
        retry=RetryPolicy(max_attempts=1),
        router=BayesianRouter(explore=False),
        circuit=CircuitPolicy(failure_threshold=2, cooldown_s=60),
        judges=["function:c"],  # (a call of `a` as a judge would close its circuit)
    )
    async with orch:
        for n in range(3):
            refused = await orch.run(f"a flagged text {n}", max_iterations=1)
            assert refused.status == "completed" and refused.final_model == "function:b"
            assert refused.orchestration.iterations[0].errors[0].startswith("function:a: ContentFiltered")
        assert orch.model_status("function:a") == "active"
        result = await orch.run("A question", max_iterations=1)
    assert result.final_model == "function:a" and answered[-1] == "function:a"


async def test_answers_cut_to_nothing_by_a_small_output_cap_do_not_open_the_models_circuit() -> None:
    """A reasoning model given too small an output cap (a run's `max_output_tokens`, or what its budget pays for)
    spends it thinking and answers nothing (finish reason `length`): the cap's failure, not the model's. A few such
    runs in a row opened its circuit, and the runs that gave it room were kept from it for the cool-down."""
    from orchestratex import Generation, Usage

    def fn(request: GenerationRequest) -> str | Generation:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "ok"}'
        if request.model.name == "function:a" and request.max_output_tokens < 500:  # all of it spent reasoning
            usage = Usage(
                input_tokens=10, output_tokens=request.max_output_tokens, reasoning_tokens=request.max_output_tokens
            )
            return Generation(text="", usage=usage, finish_reason="length")
        return "fine"

    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=catalog("a", "b", "c", quality={"a": 9.9, "b": 6.0, "c": 5.0}),
        retry=RetryPolicy(max_attempts=1),
        router=BayesianRouter(explore=False),
        circuit=CircuitPolicy(failure_threshold=2, cooldown_s=60),
        judges=["function:c"],  # (a call of `a` as a judge would close its circuit)
    )
    async with orch:
        for n in range(3):
            cut = await orch.run(f"A hard question {n}", max_iterations=1, max_output_tokens=300)
            assert cut.status == "completed" and cut.final_model == "function:b"
            assert "output cap ran out before any answer" in cut.orchestration.iterations[0].errors[0]
        assert orch.model_status("function:a") == "active"
        roomy = await orch.run("A hard question", max_iterations=1, max_output_tokens=1000)
    assert roomy.final_model == "function:a"
