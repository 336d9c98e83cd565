"""Retry and circuit-breaker settings."""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .._frozen import frozen_errors
from .._plain import is_real, is_whole, plain
from ..exceptions import UserError

__all__ = ["CircuitPolicy", "RetryPolicy"]


def _seconds(value: object) -> bool:
    """Whether `value` is a finite number of seconds >= 0 (not a bool, nor text; numpy's numbers too)."""
    return is_real(value) and 0 <= value < math.inf  # type: ignore[operator]


@frozen_errors("orchestrator.retry")
@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the orchestrator (the one retry owner) retries a failed call to the same model.

    Timeouts, connection errors, 429 and 5xx are retried with exponential backoff and full
    jitter; the `Retry-After` of a 429 or a 5xx (503, Anthropic's 529) is honoured (waited at
    least, up to `max_wait`); one longer than all the waits left (`max_wait` before each attempt left) is not
    retried, as every retry would come too early: the orchestrator falls back to the next-best model at once, as
    it does after `max_attempts`.
    """

    max_attempts: int = 3
    """Attempts on the same model, the first included, before falling back to another."""
    initial_wait: float = 0.5
    """Seconds before the first retry (doubling each time, with jitter)."""
    max_wait: float = 30.0
    """The longest wait before a retry, in seconds (a `Retry-After` too)."""
    sleep: Callable[[float], Awaitable[None] | None] = field(default=asyncio.sleep, repr=False)
    """Injectable for tests, to record waits instead of sleeping: an `async def` (or a function returning an
    awaitable), or a plain function that records the wait (it is not awaited)."""

    def __post_init__(self) -> None:
        if not callable(self.sleep):
            raise UserError(f"sleep must be a function taking the seconds to wait, not {self.sleep!r}")
        if not is_whole(self.max_attempts) or self.max_attempts < 1:  # (numpy's integers too: `np.arange`'s)
            raise UserError(f"max_attempts must be a whole number >= 1, not {self.max_attempts!r}")
        if not (_seconds(self.initial_wait) and _seconds(self.max_wait)):
            raise UserError(
                f"initial_wait and max_wait must be finite numbers of seconds >= 0, not {self.initial_wait!r} and "
                f"{self.max_wait!r}"
            )
        for name in ("max_attempts", "initial_wait", "max_wait"):  # (`np.int64(3)` was refused as no whole number)
            object.__setattr__(self, name, plain(getattr(self, name)))


async def pause(policy: RetryPolicy, seconds: float) -> None:
    """Wait `seconds` with the policy's `sleep` (awaited when it gives an awaitable, as `asyncio.sleep` does)."""
    waited = policy.sleep(seconds)
    if inspect.isawaitable(waited):
        await waited


@frozen_errors("orchestrator.circuit")
@dataclass(frozen=True, slots=True)
class CircuitPolicy:
    """When a failing model is kept out of routing.

    After `failure_threshold` failed attempts in a row the model's circuit opens for
    `cooldown_s` seconds; then one trial call is let through (half-open): success closes it,
    failure opens it again.
    """

    failure_threshold: int = 5
    """Failed attempts in a row that open a model's circuit."""
    cooldown_s: float = 30.0
    """Seconds an open circuit keeps the model out before one trial call."""

    def __post_init__(self) -> None:
        threshold = self.failure_threshold
        if not is_whole(threshold) or threshold < 1:
            raise UserError(f"failure_threshold must be a whole number >= 1 of failed attempts, not {threshold!r}")
        if not _seconds(self.cooldown_s):
            raise UserError(f"cooldown_s must be a finite number of seconds >= 0, not {self.cooldown_s!r}")
        object.__setattr__(self, "failure_threshold", plain(threshold))
        object.__setattr__(self, "cooldown_s", plain(self.cooldown_s))
