"""Retrying one model call with tenacity once its first attempt has failed, honouring Retry-After."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from ..exceptions import ProviderError, ProviderServerError, RateLimited
from ._policies import RetryPolicy, pause

if TYPE_CHECKING:
    from tenacity import RetryCallState

__all__ = ["RETRY_IN", "retry_after", "retry_wait"]

T = TypeVar("T")


logger = logging.getLogger("orchestratex.orchestrator")

RETRY_IN = "retry_in_s"
"""The field of the log record said before each retry's wait: the seconds waited (`orchestratex run`'s spinner
shows it; a 429's `Retry-After` may be tens of seconds during which the model is not answering)."""


def _say_retry(
    exc: ProviderError, seconds: float, attempt: int, attempts: int, ids: Mapping[str, str] | None = None
) -> None:
    """Say that the call is retried; `ids` (`orchestration_id`, `session_id`, `thread_id`) name the run it is for: a
    server running many runs wrote the line with nothing to tell which run was waiting on the model."""
    model = exc.model or exc.provider or "a model"
    run = f" for orchestration {ids['orchestration_id']}" if ids and "orchestration_id" in ids else ""
    logger.info(
        "%s failed (%s); retrying in %.1f s (attempt %d of %d)%s",
        model,
        type(exc).__name__,
        seconds,
        attempt,
        attempts,
        run,
        extra={
            **(ids or {}),
            "model": model,
            "error_type": type(exc).__name__,
            RETRY_IN: round(seconds, 3),
            "attempt": attempt,
        },
    )


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.retryable


def _later(policy: RetryPolicy, exc: BaseException | None, attempt: int) -> bool:
    """Whether `exc`, the failure of attempt number `attempt`, is a 429, 503 or 529 asking to be retried later than
    the waits left can reach (`max_wait` before each attempt left): every retry would come before the model takes
    calls again, and only make the run wait."""
    return (
        isinstance(exc, RateLimited | ProviderServerError)
        and exc.retry_after is not None
        and exc.retry_after > policy.max_wait * (policy.max_attempts - attempt)
    )


def retry_wait(policy: RetryPolicy, attempt: int, exc: BaseException | None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): backoff with full jitter, or at least the
    `Retry-After` a 429, 503 or 529 carried, both capped at `policy.max_wait`."""
    backoff = random.uniform(0, min(policy.max_wait, policy.initial_wait * 2 ** (attempt - 1)))
    if isinstance(exc, (RateLimited, ProviderServerError)) and exc.retry_after is not None:
        return min(max(exc.retry_after, backoff), policy.max_wait)
    return backoff


async def retry_after(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    on_failure: Callable[[BaseException], None] | None,
    first: BaseException | None,
    allowed: Callable[[], bool] | None = None,
    ids: Mapping[str, str] | None = None,
) -> T:
    """Retry a model call whose first attempt, made by the caller (`Spending._call`: a successful call pays nothing
    for retrying), failed with `first`: retryable `ProviderError`s per `policy` (tenacity owns the loop), every
    failed attempt shown to `on_failure`. A failure whose `Retry-After` is longer than the waits left can reach
    (`policy.max_wait` before each attempt left) is not retried: it is raised at once, and the run falls back.
    Once `allowed()` is false (the model's circuit opened, by these failures or by other runs' calls) no further
    attempt is made: the last failure is raised, and the run falls back. `ids` name the run in the line said before
    each retry. Its own function: the fast path's frame holds no closure cells, objects the cyclic garbage collector
    would track while the call is in flight."""
    last = first

    async def attempt() -> T:
        nonlocal first, last
        if first is not None:  # tenacity's attempt 1 is the one already made
            exc, first = first, None
            raise exc
        if allowed is not None and last is not None and not allowed():  # (it opened while this call waited)
            raise last
        try:
            return await fn()
        except ProviderError as err:
            last = err
            if on_failure is not None:
                on_failure(err)
            raise

    # tenacity is imported only once a call has failed: the fast path never pays for it
    from tenacity import AsyncRetrying, retry_if_exception

    def stop(state: RetryCallState) -> bool:  # (checked before waiting: an open circuit is not waited for)
        if state.attempt_number >= policy.max_attempts or (allowed is not None and not allowed()):
            return True
        outcome = state.outcome  # (a Retry-After beyond `max_wait`: the run falls back now rather than wait for a
        return _later(policy, outcome.exception() if outcome else None, state.attempt_number)  # too early)

    def wait(state: RetryCallState) -> float:
        outcome = state.outcome
        exc = outcome.exception() if outcome else None
        seconds = retry_wait(policy, state.attempt_number, exc)
        # (tenacity asks for the wait before it checks `stop`: said only when another attempt follows)
        if (
            isinstance(exc, ProviderError)
            and _retryable(exc)
            and state.attempt_number < policy.max_attempts
            and (allowed is None or allowed())
            and not _later(policy, exc, state.attempt_number)
        ):
            _say_retry(exc, seconds, state.attempt_number + 1, policy.max_attempts, ids)
        return seconds

    retrying = AsyncRetrying(
        stop=stop,
        wait=wait,
        retry=retry_if_exception(_retryable),
        sleep=partial(pause, policy),
        reraise=True,
    )
    return await retrying(attempt)
