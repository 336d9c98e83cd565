"""A CLI run that is interrupted ends as `cancelled` in the store, not left for a server to resume.

`orchestratex run` stores every step, and a server (`orchestratex serve`) on the same store resumes
any orchestration that a dead process left `pending` or `running` — paying for the rest of it. For
a run someone stopped on purpose (Ctrl-C, `kill`, a closed terminal, a reader that went away as in
`| head -1`) or whose output cannot be written (`> /dev/full`) that is the wrong outcome, so `RunGuard`
catches SIGINT, SIGTERM and SIGHUP (and is told when stdout fails) and cancels the orchestration: its
last event is `orchestration_failed` with reason `cancelled`, its reservations are released, and
nothing resumes it.

With `--detach` the run is suspended instead: the step in progress is abandoned, the orchestration
stays `running` with its lease given up, and the next process that resumes orchestrations on the
store (a server) continues it from its last committed step.

A signal the command was started ignoring is left ignored: `nohup orchestratex run …` outlives its terminal, and
a background job of a script (which the shell starts ignoring SIGINT) is not stopped by the script's Ctrl-C.

A SIGKILL or a crash cannot be caught: such a run is resumed by a server, as any crashed run is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._dollars import dollars
from ..exceptions import StoreUnavailable

if TYPE_CHECKING:
    from ..events import Event, EventHandler
    from ..orchestrator import Orchestrator, RunResult

__all__ = ["EXIT_CODES", "STDOUT_FAILED", "Interrupted", "RunGuard", "abandoned_note"]

EXIT_CODES = {"SIGHUP": 129, "SIGINT": 130, "SIGPIPE": 141, "SIGTERM": 143}
"""The shell's convention: 128 + the signal's number."""

SLOW_STOP_S = 2.0
"""After this long stopping an interrupted run, the command says it is waiting for the store."""

STDOUT_FAILED = "stdout"
"""The cause of an interruption by a stdout that cannot be written (not a closed pipe: a full disk, an I/O error)."""

logger = logging.getLogger("orchestratex.cli")

_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
_SIGNAL_NAMES = frozenset(sig.name for sig in _SIGNALS)


class Interrupted(Exception):
    """The run was stopped by `cause` (a signal's name, or `STDOUT_FAILED` with `detail` saying why); `status` is
    the orchestration's status in the store, `result` its document and events as stored once it stopped (what
    `run --json` prints), or None when it was interrupted before it was stored."""

    def __init__(
        self,
        cause: str,
        orchestration_id: str | None,
        status: str | None,
        spent: float,
        detail: str = "",
        result: RunResult | None = None,
        store: str = "",
        catalog: str = "",
        free: bool = False,
        needs: str = "",
        unrecorded: str = "",
    ) -> None:
        self.cause = cause
        self.unrecorded = unrecorded
        """Why the store did not take the stop (it failed past its retries): the orchestration is still `running`
        there, under the lease of this process until it expires."""
        self.needs = needs
        """`, with OPENROUTER_API_KEY set …`: what the server to start needs that the command did not (see
        `RunGuard.needs`)."""
        self.free = free
        """Every model the run could call is priced at $0 (local models of a catalog file): a call it abandoned has
        nothing to bill."""
        self.store = store
        """` --store URL` when the command was given one (see `_stores.store_option`), for the server to start."""
        self.catalog = catalog
        """` --catalog FILE` when the command was given one: a server started without it resumed the run on other
        models (the shipped catalog's, or the simulator's), the file's models unknown to it."""
        self.detail = detail
        self.orchestration_id = orchestration_id
        self.status = status
        self.spent = spent
        self.result = result
        super().__init__(self.message)

    @property
    def exit_code(self) -> int:
        return 1 if self.cause == STDOUT_FAILED else EXIT_CODES.get(self.cause, 130)

    @property
    def message(self) -> str:
        what = (
            "stdout was closed"
            if self.cause == "SIGPIPE"
            else f"stdout could not be written ({self.detail})"
            if self.cause == STDOUT_FAILED
            else f"interrupted by {self.cause}"
        )
        if self.orchestration_id is None:
            return f"{what} before the orchestration was stored"
        if self.unrecorded:
            stop = "detached" if self.status == "running" else "ended cancelled"
            return (
                f"{what}: orchestration {self.orchestration_id} could not be {stop}, the store failing "
                f"({self.unrecorded}): it is still running there, and a server on this store (`orchestratex "
                f"serve{self.store}{self.catalog}`) resumes it once its lease has expired"
            )
        oid, spent = self.orchestration_id, f"{dollars(self.spent)} spent{self._abandoned()}"
        if self.status == "running":
            return (
                f"{what}: orchestration {oid} is detached ({spent}); a server on this store "
                f"(`orchestratex serve{self.store}{self.catalog}`{self.needs}) resumes it from its last completed step"
            )
        if self.status in ("completed", "failed"):  # (it ended before the interruption was noticed: nothing stopped it)
            return f"{what}: orchestration {oid} had ended {self.status} ({spent})"
        return f"{what}: orchestration {oid} ended {self.status} ({spent}); nothing will resume it"

    def _abandoned(self) -> str:
        """`, not counting 1 call abandoned in flight, which the provider may have billed`: a call stopped while a
        real model answered has a cost no one knows (the answer never ended), so `$0.000000 spent` alone hid it."""
        return (
            abandoned_note(self.result.orchestration.abandoned_calls)
            if self.result is not None and not self.result.simulated and not self.free
            else ""
        )


def abandoned_note(calls: int | None) -> str:
    """What `Orchestration.abandoned_calls` means for the bill, as a clause (empty when there were none)."""
    if not calls:
        return ""
    return (
        f", not counting {calls} call{'' if calls == 1 else 's'} abandoned in flight, which the provider may have "
        "billed"
    )


class RunGuard:
    """Runs one orchestration, ending it cleanly if the process is interrupted.

    `interrupt(cause)` may be called from anywhere on the event loop (a signal handler, an event
    handler whose output pipe closed). The cancellation is sent once the orchestration has emitted
    its first event: from then on the orchestrator itself turns it into the `cancelled` end.
    """

    def __init__(
        self,
        orchestrator: Orchestrator,
        *,
        detach: bool = False,
        store: str = "",
        catalog: str = "",
        needs: str = "",
    ) -> None:
        self.orchestrator = orchestrator
        self.detach = detach
        self.store = store
        """` --store URL` when the command was given one: the server a detached run is left for must be started on
        it (`orchestratex serve` alone serves the default store, which never resumes the run)."""
        self.catalog = catalog
        """` --catalog FILE` when the command was given one: the server must have the run's models too."""
        self.needs = needs
        """`, with OPENROUTER_API_KEY set …` when the catalog file has an endpoint the run left out (`--provider
        ollama`) that cannot be built: a server builds every endpoint of its file, and refused to start."""
        self.cause: str | None = None
        self.detail = ""
        self._oid: str | None = None
        self._started = False
        self._stopping: asyncio.Task[bool] | None = None
        self._storing: asyncio.TimerHandle | None = None
        self._told = False

    @property
    def orchestration_id(self) -> str | None:
        """The id of the orchestration run, once it is stored."""
        return self._oid

    def interrupt(self, cause: str, detail: str = "") -> None:
        if self.cause is None:
            self.cause, self.detail = cause, detail
            if self._oid is None:  # (being stored: a store another process holds keeps the run from its end too)
                self._storing = asyncio.get_running_loop().call_later(SLOW_STOP_S, self._say_still_stopping)
        elif cause in _SIGNAL_NAMES and (
            self._oid is None or (self._stopping is not None and not self._stopping.done())
        ):
            # (a second Ctrl-C while the store is slow to record the end; not the output failing as the run ends:
            # Ctrl-C on `orchestratex run … | less` stops the reader too, and the line saying the run was cancelled
            # then met a closed pipe, which said "waiting for the store … (it retries while another process holds
            # the store)" of a store that had answered in milliseconds)
            self._say_still_stopping()
        self._stop_when_possible()

    def _stop_when_possible(self) -> None:
        if self.cause is None or self._oid is None or not self._started or self._stopping is not None:
            return
        stop = self.orchestrator.suspend if self.detach else self.orchestrator.cancel
        action = "suspending" if self.detach else "cancelling"
        logger.info("%s: %s orchestration %s", self.cause, action, self._oid, extra={"orchestration_id": self._oid})
        loop = asyncio.get_running_loop()
        self._stopping = loop.create_task(stop(self._oid))
        notice = loop.call_later(SLOW_STOP_S, self._say_still_stopping)
        self._stopping.add_done_callback(lambda _: notice.cancel())
        self._stopping.add_done_callback(_retrieved)  # (a cancel the store did not take raises: the run's end says so)

    def _say_still_stopping(self) -> None:
        """Say, once, that the stop is under way: a store that is slow to answer (another process holding a SQLite
        file, an unreachable MongoDB) would otherwise leave an interrupted command silent for as long as it retries."""
        if self._told or (self._oid is not None and (self._stopping is None or self._stopping.done())):
            return
        self._told = True
        action = "detaching" if self.detach else "cancelling"
        from ..stores.sqlite import SQLiteStore

        # (a MongoDB server that does not answer was said to be "held by another process" too)
        why = (
            "it retries while another process holds the store"
            if isinstance(self.orchestrator.store, SQLiteStore)
            else "it retries until the store answers"
        )
        said = (
            # (Ctrl-C while the run was being stored, that store held: nothing was said for as long as it retried, a
            # minute at most, a second and third Ctrl-C seemingly ignored too)
            f"interrupted by {self.cause}: waiting for the store to record the orchestration, to end it "
            f"{'detached' if self.detach else 'cancelled'}"
            if self._oid is None
            else f"{action} orchestration {self._oid}: waiting for the store to record it"
        )
        print(f"orchestratex: {said} ({why})", file=sys.stderr, flush=True)

    def _on_event(self, event: Event) -> None:
        if not self._started:
            self._started = True
            self._stop_when_possible()

    async def run(
        self,
        prompt: str,
        *,
        on_event: EventHandler | Sequence[EventHandler] = (),
        judges: Sequence[str] | None = None,
        **options: Any,
    ) -> RunResult:
        """`Orchestrator.run`, interruptible: raises `Interrupted` when a signal or `interrupt` stopped it. `judges`
        are stored with the run's new session (its `judges` setting), for any process that resumes the run."""
        loop = asyncio.get_running_loop()
        installed = []
        for sig in _SIGNALS:
            if signal.getsignal(sig) is signal.SIG_IGN:  # (`nohup`, a shell's background job: meant to outlive it)
                continue
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not on this platform/thread
                loop.add_signal_handler(sig, self.interrupt, sig.name)
                installed.append(sig)
        handlers = [self._on_event, *([on_event] if callable(on_event) else on_event)]
        try:
            if judges is not None:  # (`run --provider openai`: a server resuming it judged it with its own models)
                options = await self._with_judges(judges, options)
            return await self._drive(prompt, handlers, options)
        except StoreUnavailable as exc:
            if self.cause is None or self._oid is not None:
                raise
            # (interrupted while the store, failing past its retries, never stored the run: it ended on the store's
            # error, exit code 1, having said it waited to end the run)
            raise Interrupted(self.cause, None, None, 0.0, self.detail) from exc
        finally:
            if self._storing is not None:
                self._storing.cancel()
            for sig in installed:
                loop.remove_signal_handler(sig)

    async def _with_judges(self, judges: Sequence[str], options: dict[str, Any]) -> dict[str, Any]:
        """`options` with the run's session made now, holding `judges` and the budget (`cost_limit`) a session made by
        `prepare` holds."""
        options = dict(options)
        session = await self.orchestrator.create_session(
            options.get("user_id") or "local",
            max_iterations=options.get("max_iterations"),
            cost_limit=options.pop("cost_limit", None),
            judges=judges,
        )
        return {**options, "session": session}

    async def _drive(self, prompt: str, handlers: list[EventHandler], options: dict[str, Any]) -> RunResult:
        from ..orchestrator import RunResult

        orchestrator = self.orchestrator
        doc = await orchestrator.prepare(prompt, **options)
        if self._storing is not None:
            self._storing.cancel()
        self._oid = doc.id
        logger.info(
            "orchestration %s stored; interrupting it %s it",
            doc.id,
            "detaches" if self.detach else "cancels",
            extra={"orchestration_id": doc.id, "session_id": doc.session_id},
        )
        orchestrator.handlers.extend(handlers)
        try:
            if self.cause is not None and not self.detach:
                # interrupted while it was being stored (a store another process held, say): not started, but ended
                # `cancelled` as it is, before any call. It was started and stopped at its first event, by when its
                # first model call was on its way: paid for, after the Ctrl-C
                self._started = True
                self._stop_when_possible()
            else:
                task = orchestrator.start(doc)
                try:
                    result = await task
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if self.cause is None or (current is not None and current.cancelling()):
                        raise
                else:
                    if self.cause is None:
                        return result
            if self._stopping is not None:
                await self._stopping
            stored = await orchestrator.store.get_orchestration(doc.id)
            events = await orchestrator.store.list_events(doc.session_id, orchestration_id=doc.id, limit=100_000)
            result = RunResult(stored, events, orchestrator.simulated)  # (what `run` returns, as stored now)
            raise Interrupted(
                self.cause,
                doc.id,
                stored.status,
                stored.total_cost,
                self.detail,
                result,
                self.store,
                self.catalog,
                free=bool(stored.abandoned_calls) and _all_free(orchestrator),
                needs=self.needs,
            )
        except StoreUnavailable as exc:
            if self.cause is None:
                raise
            # (the store never took the stop, retried for a minute: the command ended "StoreUnavailable: …" with exit
            # code 1, the signal forgotten and not a word of the run left `running`, which a server would resume)
            if self._stopping is not None and self._stopping.done() and not self._stopping.cancelled():
                self._stopping.exception()  # (the same failure: retrieved, not logged as never retrieved)
            raise Interrupted(
                self.cause,
                doc.id,
                "running" if self.detach else None,
                0.0,
                self.detail,
                store=self.store,
                catalog=self.catalog,
                unrecorded=exc.message,
            ) from exc
        finally:
            for handler in handlers:
                orchestrator.handlers.remove(handler)


def _all_free(orchestrator: Orchestrator) -> bool:
    """Whether every model `orchestrator` may call, to answer or to judge, is priced at $0 (the Ollama models of a
    catalog file, say): a run of such models interrupted was said to abandon a call "which the provider may have
    billed", which no provider of them does."""
    from ..exceptions import OrchestrateXError

    try:
        models = [*orchestrator.usable_models(), *orchestrator.judge_models()]
    except OrchestrateXError:
        return False
    return bool(models) and all(
        m.input_cost_per_1k == 0 and m.output_cost_per_1k == 0 and not m.cached_input_cost_per_1k for m in models
    )


def _retrieved(task: asyncio.Task[bool]) -> None:
    """Mark the outcome of the stop `task` seen: the interrupted run's own end (its store's error) says what it means,
    and asyncio printed "Task exception was never retrieved" after it."""
    if not task.cancelled():
        task.exception()
