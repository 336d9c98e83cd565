"""`Orchestrator.run_stream`: an async iterator of the run's events and of each answer's text as it is produced."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NoReturn, Self, TypeAlias, cast

from ..events import Event, OrchestrationCompleted, OrchestrationFailed
from ..exceptions import UserError

if TYPE_CHECKING:
    from .orchestrator import RunResult

__all__ = ["AnswerDelta", "DeltaSink", "RunStream", "StreamItem"]


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    """A piece of an answer's text, as the generating model produces it.

    Every iteration's answer streams (the run's final answer is the best-scoring one, known at the
    end: `OrchestrationCompleted.final_response` and `model_name`). A piece with `index` 0 after
    others of the same iteration starts the answer over: the call failed and was retried, or
    another model took over; drop what came before.
    """

    type: ClassVar[Literal["answer_delta"]] = "answer_delta"
    """Tells it from the events (whose `type` is theirs) when items are told apart by `item.type`."""
    orchestration_id: str
    """The orchestration whose answer this is."""
    iteration: int
    """The 1-based iteration whose answer this is."""
    model_name: str
    """The model producing it."""
    text: str
    """The new text (append it to what came before)."""
    index: int = 0
    """The position of this piece within the answer (0 for the first)."""


StreamItem: TypeAlias = Event | AnswerDelta
"""What `run_stream` yields: the run's events and its answers' deltas, in the order they happen."""

DeltaSink: TypeAlias = Callable[[AnswerDelta], None]
"""Receives every `AnswerDelta` of a run (`Orchestrator.drive(on_delta=...)`)."""

_DONE = object()
_READ_ASYNC = (
    "a stream is read asynchronously, not with {written}: write `async with orchestrator.run_stream(...) as stream:` "
    "then `async for item in stream:` (in an `async def`, or a Jupyter cell, where top-level await works); from "
    "synchronous code, `run_sync(..., on_event=handler)` hands each event to `handler` as it happens"
)
_END_EVENTS = (OrchestrationCompleted, OrchestrationFailed)


class RunStream:
    """The events and answer deltas of one run, as an async iterator; `result` once it has ended.

    ```python
    async with orchestrator.run_stream("Explain TCP slow start") as stream:
        async for item in stream:
            if isinstance(item, AnswerDelta):
                print(item.text, end="", flush=True)
    print(stream.result.final_score)
    ```

    The run starts on entering the `async with` block (or on the first `async for`). Leaving the block (or, without
    one, dropping the iterator: a `break`) before the end cancels the run: it ends `cancelled`, with its spending
    settled, and `result` is then the cancelled run. Errors of the run (a bad option, a store failure) are raised by
    the iteration, and by `result` after it. A stream is one run, entered once (again: `UserError`).
    """

    def __init__(
        self,
        start: Callable[[Callable[[StreamItem], None]], Coroutine[Any, Any, RunResult]],
        ended: Callable[[str], Coroutine[Any, Any, RunResult]] | None = None,
    ) -> None:
        self._start = start
        self._ended = ended
        """The result of an orchestration that has ended, as stored (for a run cancelled by `Orchestrator.cancel`)."""
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._task: asyncio.Task[RunResult] | None = None
        self._result: RunResult | None = None
        self._finished = False
        self._closing = False
        self._orchestration_id: str | None = None
        self._final = False
        """The run's last event (`orchestration_completed` or `_failed`) has been handed out."""
        self._entered = False

    def __repr__(self) -> str:
        """Where the run is: not started, running (its orchestration once stored), or ended (how)."""
        oid = f"orchestration_id={self._orchestration_id!r}, " if self._orchestration_id else ""
        task = self._task
        if self._result is not None:
            return f"RunStream({oid}status={self._result.status!r})"
        if task is None:
            return "RunStream(not started)"
        if not task.done():
            return f"RunStream({oid}running)"
        if task.cancelled():
            return f"RunStream({oid}cancelled)"
        error = task.exception()
        if error is not None:
            return f"RunStream({oid}failed: {type(error).__name__})"
        return f"RunStream({oid}status={task.result().status!r})"  # (ended before its items were all read)

    @property
    def result(self) -> RunResult:
        """The `RunResult`, once the stream has been iterated to its end (or left after its run ended); the run's error
        (as the iteration raised it) when the run failed with one."""
        if self._result is None:
            task = self._task
            if task is not None and task.done() and not task.cancelled() and task.exception() is not None:
                task.result()  # (raises it)
            if self._closing:
                raise UserError("the stream was left before its run's first event: the run was cancelled")
            raise UserError("the run has not finished: iterate the stream to its end before reading its result")
        return self._result

    def _ensure_started(self) -> asyncio.Task[RunResult]:
        if self._task is None:
            self._task = asyncio.create_task(self._start(self._put), name="orchestratex-run-stream")
            self._task.add_done_callback(lambda _: self._queue.put_nowait(_DONE))
        return self._task

    def _put(self, item: StreamItem) -> None:
        if self._orchestration_id is None:
            self._orchestration_id = item.orchestration_id
        self._queue.put_nowait(item)

    async def __aenter__(self) -> Self:
        if self._entered:  # a nested block's exit would cancel the run the outer one reads
            raise UserError(
                "this RunStream was already entered: a stream is one run, entered once; call run_stream again"
                " for another run"
            )
        self._entered = True
        self._ensure_started()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncIterator[StreamItem]:
        return self._iterate()

    def __iter__(self) -> NoReturn:
        """Refused with what to write: Python said only "'RunStream' object is not iterable"."""
        raise UserError(_READ_ASYNC.format(written="`for item in orchestrator.run_stream(...)`"))

    def __enter__(self) -> NoReturn:
        """Refused with what to write: Python said only "'RunStream' object does not support the context manager
        protocol"."""
        raise UserError(_READ_ASYNC.format(written="`with orchestrator.run_stream(...)`"))

    def __exit__(self, *exc: object) -> None:  # (never called: `__enter__` refuses; `with` needs both to be there)
        return None

    async def _iterate(self) -> AsyncIterator[StreamItem]:
        task = self._ensure_started()
        try:
            while not self._finished:
                item = await self._queue.get()
                if item is _DONE:
                    self._queue.put_nowait(_DONE)  # (for any other iterator waiting on the same stream)
                    await self._finish(task)
                    return
                if isinstance(item, _END_EVENTS):
                    self._final = True
                yield cast(StreamItem, item)
        finally:
            # (dropped early — a `break` — it cancels the run unless a block holds the stream: the block's exit does,
            # and reading on in the block after a `break` got a bare `CancelledError` from the next `async for`)
            if not self._finished and not self._entered:
                await self.aclose()

    async def _finish(self, task: asyncio.Task[RunResult]) -> None:
        """The run's task is done: its result, or its error raised. A run that `Orchestrator.cancel` stopped (its
        task cancelled, not by this stream) has ended `cancelled` like any other end: its result is the stored one."""
        if task.cancelled() and self._ended is not None and self._orchestration_id is not None:
            self._result = await self._ended(self._orchestration_id)  # (by `cancel`, or by this stream's closing)
        elif task.cancelled() and self._closing:  # (an `async for` after one dropped before the first event)
            raise UserError("the stream was left before its run's first event: the run was cancelled")
        else:
            self._result = task.result()  # raises the run's error, if any
        self._finished = True

    async def aclose(self) -> None:
        """Cancel the run if it has not ended, and wait until it has settled. (Left after its last event, the run
        is not cancelled: it is finishing, and `result` is then its result.)"""
        task = self._task
        if task is None or task.done():
            if task is not None and self._result is None:  # ended while its items were not all read: its result
                if not task.cancelled():
                    if task.exception() is None:  # (retrieved: an error nobody iterated to is not "never retrieved")
                        self._result = task.result()
                elif self._ended is not None and self._orchestration_id is not None:  # stopped by `cancel`
                    with contextlib.suppress(Exception):
                        self._result = await self._ended(self._orchestration_id)
            return
        if self._final:
            with contextlib.suppress(Exception):
                self._result = await asyncio.shield(task)
            return
        self._closing = True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        if self._ended is not None and self._orchestration_id is not None:  # the cancelled run, as stored
            with contextlib.suppress(Exception):
                self._result = await self._ended(self._orchestration_id)
