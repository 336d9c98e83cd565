"""The circuit breaker and the retry wait on their own."""

from __future__ import annotations

from orchestratex.exceptions import ProviderServerError, RateLimited
from orchestratex.orchestrator import CircuitBreaker, CircuitPolicy, RetryPolicy
from orchestratex.orchestrator._retry import retry_wait


def test_circuit_opens_cools_down_and_half_opens() -> None:
    now = [0.0]
    breaker = CircuitBreaker(CircuitPolicy(failure_threshold=2, cooldown_s=10), clock=lambda: now[0])
    breaker.record_failure("m")
    assert breaker.state("m") == "closed"
    breaker.record_failure("m")
    assert breaker.state("m") == "open" and not breaker.allows("m")
    now[0] = 10.5
    assert breaker.state("m") == "half_open" and breaker.allows("m")
    breaker.before_call("m")
    assert not breaker.allows("m")  # one trial at a time
    breaker.record_failure("m")
    assert breaker.state("m") == "open"
    now[0] = 21
    breaker.before_call("m")
    breaker.record_success("m")
    assert breaker.state("m") == "closed" and breaker.snapshot() == {}


def test_retry_wait_honours_retry_after_within_max() -> None:
    policy = RetryPolicy(initial_wait=0.5, max_wait=30)
    assert retry_wait(policy, 1, RateLimited("x", retry_after=7)) >= 7
    assert retry_wait(policy, 1, RateLimited("x", retry_after=700)) == 30
    assert retry_wait(policy, 1, ProviderServerError("x", status_code=503, retry_after=7)) >= 7
    assert retry_wait(policy, 1, ProviderServerError("x", status_code=529, retry_after=700)) == 30
    waits = [retry_wait(policy, 3, ProviderServerError("x", status_code=500)) for _ in range(200)]
    assert 0 <= min(waits) and max(waits) <= 2.0 and len(set(waits)) > 1  # full jitter up to 0.5 * 2**2
