"""A long-lived event loop in a background thread, for `run_sync` (one per orchestrator).

Providers hold connections bound to the loop that opened them (an `AsyncOpenAI` client is one):
a new loop per call would find them dead on the second call. The portal keeps one loop for the
orchestrator's life, and blocking callers hand it coroutines.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import signal
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

from .._ids import forks
from .._shell import ipython_shell
from ..exceptions import UserError

__all__ = ["INTERRUPTED", "RUN_SYNC_THREAD", "Portal", "forked_error"]

T = TypeVar("T")

RUN_SYNC_THREAD = "orchestratex-run-sync"
"""The name of the thread running a portal's loop (`run_sync`'s)."""
INTERRUPTED = "interrupted (KeyboardInterrupt: Ctrl-C, or a kernel interrupt in Jupyter) as run_sync() waited for it"
"""The message a portal cancels its coroutine with when its caller is interrupted: the `error` of a run so stopped."""


class Portal:
    """Runs coroutines on its own event loop, in a daemon thread started on first use."""

    def __init__(self, name: str = RUN_SYNC_THREAD) -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._forks = forks()
        """`forks()` when the loop was started: another value means this process was forked from the one running it."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The portal's loop, once started."""
        return self._loop

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    try:
                        loop.run_forever()
                    finally:  # stopped by `close`, which may have run on this very thread (a finalizer)
                        try:  # as `asyncio.run` does: a provider's client of this loop is closed as it ends
                            loop.run_until_complete(loop.shutdown_asyncgens())
                        finally:
                            loop.close()

                self._thread = threading.Thread(target=serve, name=self._name, daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
                self._forks = forks()
            return self._loop

    def call(
        self,
        coro: Coroutine[Any, Any, T],
        *,
        what: str = "run_sync()",
        fix: str = "Use `await orchestrator.run(...)`",
    ) -> T:
        """Run `coro` on the portal's loop and wait for its result; its exception is raised as it is.

        From inside a running event loop this would block that loop: `UserError` says to `await`. In an
        IPython shell (a Jupyter kernel runs every cell inside its loop) it blocks the cell instead, as any
        synchronous call there does. Interrupted (Ctrl-C, a kernel interrupt) while waiting, the coroutine is
        cancelled and waited for before the `KeyboardInterrupt` propagates. In a process forked from the one whose
        loop this is, `UserError`: that loop's thread is not in this process (waiting for it would never end).
        """
        if self._inherited():
            coro.close()
            raise forked_error(what)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            if ipython_shell() is not None and threading.current_thread() is not self._thread:
                with _interruptible():
                    return self._wait(coro, what)
            coro.close()
            raise UserError(
                f"{what} cannot be called from a running event loop (an async function): it would "
                f"block that loop. {fix} there instead."
            )
        if threading.current_thread() is self._thread:  # pragma: no cover - guarded by the check above
            coro.close()
            raise UserError(f"{what} cannot be called from the orchestrator's own loop")
        return self._wait(coro, what)

    def _wait(self, coro: Coroutine[Any, Any, T], what: str) -> T:
        tasks: list[asyncio.Task[Any]] = []

        async def tracked() -> T:  # (its task, cancelled saying why if the caller is interrupted)
            task = asyncio.current_task()
            if task is not None:
                tasks.append(task)
            try:
                return await coro
            except (KeyboardInterrupt, SystemExit) as exc:  # (an event handler's `sys.exit()`): out of the task, it
                raise _Raised(exc) from None  # stopped this loop's thread, and every later call found the loop closed

        wrapped = tracked()
        loop = self._start()
        try:
            future = asyncio.run_coroutine_threadsafe(wrapped, loop)
        except RuntimeError:  # ("Event loop is closed": `close` stopped it since; the next call starts another)
            if not loop.is_closed():
                raise
            future = asyncio.run_coroutine_threadsafe(wrapped, self._start())
        try:
            return future.result()  # the coroutine's exception, raised as it is
        except _Raised as raised:
            raise raised.exc from None
        except concurrent.futures.CancelledError:  # (not begun as `close` stopped the loop: it said nothing more)
            raise UserError(
                f"{what} did not run: the orchestrator was closed (close()) as it was called. Call it again (a closed "
                "orchestrator runs again), or before closing the orchestrator"
            ) from None
        except KeyboardInterrupt:
            if tasks:  # (the run stored "the orchestration was cancelled", saying nothing of the interrupt)
                with contextlib.suppress(RuntimeError):  # (its loop closed since)
                    tasks[0].get_loop().call_soon_threadsafe(tasks[0].cancel, INTERRUPTED)
            else:
                future.cancel()
            concurrent.futures.wait([future], timeout=30)
            raise

    def _inherited(self) -> bool:
        """Whether the loop was started in the process this one was forked from (its thread is not here)."""
        return self._loop is not None and self._forks != forks()

    def close(self) -> None:
        """Stop the loop and its thread (after the coroutines running on it have been awaited). In a forked child,
        the parent's loop is left alone (its thread is the parent's)."""
        if self._inherited():
            return
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if thread is threading.current_thread():  # a finalizer running on the portal's own loop
            loop.create_task(_cancel_all()).add_done_callback(lambda _: loop.stop())
            return
        if thread.is_alive():
            try:  # the tasks left on the loop (a lease keeper) end cleanly, not "destroyed but pending"
                asyncio.run_coroutine_threadsafe(_cancel_all(), loop).result(timeout=10)
            except Exception:  # pragma: no cover - a task that refuses to end: stop the loop anyway
                pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)  # (the thread closes its loop as it ends)


class _Raised(Exception):
    """A `KeyboardInterrupt` or `SystemExit` raised on the portal's loop, carried to the caller's thread to be raised
    there: out of a task, it would stop the loop."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(exc)
        self.exc = exc


def forked_error(what: str) -> UserError:
    """The error of a call in a forked child on an orchestrator that ran in the parent before the fork."""
    return UserError(
        f"{what} cannot be used in this process: the orchestrator ran in the process this one was forked from, and "
        "its event loop thread and its store's and providers' connections stayed there. Create the Orchestrator in "
        "each process after the fork (gunicorn: in a post_fork hook), or run nothing on it before forking "
        "(or close() it, and the store you gave it, before forking)"
    )


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C raises `KeyboardInterrupt` while the kernel's loop is blocked. A Jupyter kernel running a cell with an
    `await` in it turns SIGINT into a callback on that loop (to cancel the cell), which never runs while a synchronous
    call blocks the loop: the interrupt was lost and the run went on to its end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGINT)
    if handler in (signal.default_int_handler, signal.SIG_IGN, signal.SIG_DFL, None):
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)


async def _cancel_all() -> None:
    """Cancel every other task of the running loop and wait for them to end."""
    this = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not this]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
