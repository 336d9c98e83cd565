"""Retry and circuit-breaker settings."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["CircuitPolicy", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the orchestrator (the one retry owner) retries a failed call to the same model.

    Timeouts, connection errors, 429 and 5xx are retried with exponential backoff and full
    jitter; a 429's `Retry-After` is honoured (waited at least, up to `max_wait`). After
    `max_attempts` the orchestrator falls back to the next-best model.
    """

    max_attempts: int = 3
    initial_wait: float = 0.5
    """Seconds before the first retry (doubling each time, with jitter)."""
    max_wait: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    """Injectable for tests, to record waits instead of sleeping."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.initial_wait < 0 or self.max_wait < 0:
            raise ValueError("waits must be >= 0")


@dataclass(frozen=True, slots=True)
class CircuitPolicy:
    """When a failing model is kept out of routing.

    After `failure_threshold` failed attempts in a row the model's circuit opens for
    `cooldown_s` seconds; then one trial call is let through (half-open): success closes it,
    failure opens it again.
    """

    failure_threshold: int = 5
    cooldown_s: float = 30.0
