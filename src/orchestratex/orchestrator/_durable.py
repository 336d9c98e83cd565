"""Store calls that move money or events: run to their end despite cancellation, retried while the store is
unavailable.

A run must always know whether a store write happened. Cancelling the task that awaits a write does
not undo the write (SQLite's worker thread finishes the job; a MongoDB server applies an update it
received), so `outcome` lets the write finish, hands its result to the caller's bookkeeping and only
then re-raises the cancellation. The task finishing a write cannot be cancelled at all: the event loop's
shutdown (`asyncio.run` returning with runs still in flight), which cancels every task, waits for it
instead of losing what it wrote. `with_store_retries` retries `StoreUnavailable` — which a store raises
only for a write it did not apply (its commits are all or nothing) — with bounded exponential backoff.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping
from typing import Any, Generic, TypeVar, cast

from ..exceptions import StoreUnavailable
from ._policies import RetryPolicy, pause
from ._retry import retry_wait

__all__ = ["DEFAULT_STORE_RETRY", "outcome", "with_store_retries"]

logger = logging.getLogger("orchestratex.orchestrator")

T = TypeVar("T")

DEFAULT_STORE_RETRY = RetryPolicy(max_attempts=6, initial_wait=0.05, max_wait=2.0)
"""Up to ~4 s of backoff on top of the store's own lock wait (SQLite: 10 s per attempt)."""


async def outcome(aw: Coroutine[Any, Any, T], record: Callable[[T], None]) -> T:
    """Await the write `aw` to its end even if the calling task is cancelled meanwhile.

    `record(result)` runs as soon as `aw` succeeds — before a pending cancellation is re-raised — so
    the caller's bookkeeping always matches what the store did. If `aw` fails, its exception is
    raised (or the cancellation, if one arrived while it ran).
    """
    # The first step runs here: a write that never suspends (MemoryStore) completes without a task.
    try:
        pending = aw.send(None)
    except StopIteration as stop:
        record(stop.value)
        return cast(T, stop.value)
    task = _Write(_continue(aw, pending), loop=asyncio.get_running_loop())
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            # A `_Write` refuses to be cancelled: a cancellation of the caller waits for it, and arrives once it is
            # done (no shield needed, nor the callbacks and cells one would hold while the store writes).
            await task
        except asyncio.CancelledError as exc:
            cancelled = exc
        except Exception:  # the write failed: raised below (after a cancellation, as its cause)
            break
    error = task.exception()
    if error is None:
        result = task.result()
        record(result)
        if cancelled is not None:
            raise cancelled
        return result
    if cancelled is not None:
        raise cancelled from error
    raise error


class _Write(asyncio.Task[T]):
    """The task finishing a write, which `cancel` leaves running (see the module docstring): cancelled before its
    first step, its write, already sent, would run on unknown to the run; cancelled after the write ended but
    before the task resumed, the write's outcome would be dropped for the cancellation."""

    def cancel(self, msg: Any | None = None) -> bool:
        return False


class _Rest(Generic[T]):
    """Awaiting it runs the rest of coroutine `coro`, which has run up to yielding `pending`."""

    __slots__ = ("coro", "pending")

    def __init__(self, coro: Coroutine[Any, Any, T], pending: Any) -> None:
        self.coro, self.pending = coro, pending

    def __await__(self) -> Generator[Any, Any, T]:
        coro, pending = self.coro, self.pending
        while True:
            try:
                sent = yield pending
            except BaseException as exc:  # thrown into the task running it: passed on to the coroutine
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return cast(T, stop.value)
                continue
            try:
                pending = coro.send(sent)
            except StopIteration as stop:
                return cast(T, stop.value)


async def _continue(coro: Coroutine[Any, Any, T], pending: Any) -> T:
    return await _Rest(coro, pending)


async def with_store_retries(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    what: str,
    deadline: float | None = None,
    ids: Callable[[], Mapping[str, str]] | None = None,
) -> T:
    """`await fn()`, retrying `StoreUnavailable` up to `policy.max_attempts` times with backoff; with `deadline`
    (`time.monotonic()`), not once another attempt, as long as the last one, would end past it. `ids()` (the run's
    `orchestration_id`, `session_id`, `thread_id`) are fields of the line said before each retry."""
    attempt = 1
    while True:
        began = time.monotonic() if deadline is not None else 0.0
        try:
            return await fn()
        except StoreUnavailable as exc:
            if attempt >= policy.max_attempts:
                raise
            wait = retry_wait(policy, attempt, exc)
            if deadline is not None and 2 * time.monotonic() - began + wait > deadline:
                raise
            logger.warning(
                "%s failed (attempt %d of %d), retrying in %.2f s: %s",
                what,
                attempt,
                policy.max_attempts,
                wait,
                exc.message,
                extra=None if ids is None else ids(),
            )
            attempt += 1
            await pause(policy, wait)
