"""The one thread that talks to SQLite, so the event loop never blocks on the database."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

__all__ = ["Worker"]

_T = TypeVar("_T")


def _deliver(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class Worker:
    """A single daemon thread running jobs in order; `run` awaits one job (one thread hop)."""

    def __init__(self, name: str) -> None:
        self._jobs: SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]] | None] = SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    async def run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run `fn(*args)` in the worker thread and return its result (or raise its exception).

        Cancelling the awaiting task does not stop a job that has started: it completes (or rolls
        back) as one unit, and its result is dropped.
        """
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._jobs.put((fn, args, future))
        return await future

    def stop(self) -> None:
        """Let the thread finish the queued jobs and exit (does not wait for it)."""
        self._jobs.put(None)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, args, future = job
            result: Any = None
            error: BaseException | None = None
            try:
                result = fn(*args)
            except BaseException as exc:  # delivered to the awaiting task
                error = exc
            try:
                future.get_loop().call_soon_threadsafe(_deliver, future, result, error)
            except RuntimeError:  # the loop closed while the job ran: nobody is waiting any more
                pass
            del job, fn, args, future, result, error
