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
        "retrying in 0.0 s (attempt 2 of 5)"
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
