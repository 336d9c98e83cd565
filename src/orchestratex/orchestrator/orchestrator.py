"""`Orchestrator`: routes, generates, judges and refines, within budget, persisting every step."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from functools import partial
from typing import Any, Literal, NoReturn, Self, SupportsIndex, cast

from typing_extensions import Unpack

from .._ids import forks
from .._plain import is_real, is_whole, plain
from .._user_ids import new_session_user_id
from ..catalog import ModelCatalog, ModelProfile, ModelStatus
from ..evaluation import Evaluator, LLMJudgeEvaluator
from ..events import EventHandler
from ..exceptions import NotFound, ProviderNotConfigured, StoreUnavailable, UnknownModelError, UserError
from ..providers import Provider
from ..providers._registry import key_hint
from ..records import Orchestration, Session, Thread
from ..routing import BayesianRouter, Router
from ..routing._base import check_router
from ..stores import Store
from ..telemetry import telemetry_settings
from ..telemetry._hooks import check_tracer_provider
from ._budget import OutputCapPolicy, OutputLengths
from ._chat import ChatInput, blank
from ._checks import (
    Handlers,
    check_async,
    check_delta_sink,
    check_handlers,
    check_parts,
    check_seconds,
    validated_settings,
)
from ._circuit import CircuitBreaker, CircuitState
from ._closing import CLOSED_WHILE_RUNNING, Closing
from ._driving import drive_stored, run_prompt, start_task, stream_run
from ._durable import DEFAULT_STORE_RETRY
from ._judges import Judging, SharedPrices
from ._lifecycle import LeaseKeeper, ensure_ready, release_store, resolve_store
from ._lookup import read_session
from ._models import ModelPools, check_not_the_class, judge_names, providers_by_name, resolve_providers
from ._owners import new_owner
from ._plan import plan, store_new
from ._policies import CircuitPolicy, RetryPolicy
from ._portal import Portal
from ._prompts import DEFAULT_SYSTEM_PROMPT
from ._result import RunOptions, RunResult
from ._resume import resume_pending
from ._sessions import SpentSoFar, new_session, new_thread
from ._stream import DeltaSink, RunStream
from ._surcharges import Surcharges
from ._unknown import check_new_attribute
from ._watch import CancelWatcher

__all__ = ["Orchestrator", "RunOptions", "RunResult"]


class Orchestrator:
    """Sends each prompt to the most suitable model, has other models judge the answer, and refines
    it until it is good enough — within a budget that is never exceeded.

    With no `providers`, the providers whose API keys are set in the environment are used (each
    from its installed adapter package); with none set, the offline `SimulatedProvider` serves a
    simulated copy of the catalog, and `simulated` is true (every event and answer says so).

    ```python
    from orchestratex import Orchestrator

    result = Orchestrator().run_sync("Write a Python function to calculate fibonacci numbers")
    print(result.final_response, result.final_score, result.total_cost)
    ```
    """

    _providers: dict[str, Provider]
    _store: Store
    _owns_store: bool
    _retired: list[Store]
    """The stores this orchestrator made that another has replaced since: `aclose` closes them."""
    _circuit: CircuitBreaker
    _handlers: list[EventHandler]
    _retry: RetryPolicy
    _store_retry: RetryPolicy

    def __init__(
        self,
        *,
        providers: Mapping[str, Provider] | Iterable[Provider] | None = None,
        catalog: ModelCatalog | str | os.PathLike[str] | None = None,
        router: Router | None = None,
        evaluator: Evaluator | None = None,
        store: Store | str | None = None,
        on_event: EventHandler | Sequence[EventHandler] = (),
        retry: RetryPolicy | None = None,
        circuit: CircuitPolicy | None = None,
        store_retry: RetryPolicy | None = None,
        max_iterations: int = 5,
        evaluation_threshold: float = 8.0,
        max_output_tokens: int = 2048,
        judge_max_output_tokens: int = 512,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
        simulate: bool | None = None,
        lease_ttl_s: float = 60.0,
        env: Mapping[str, str] | None = None,
        judges: Sequence[str] | None = None,
        judging: Judging = "always",
        output_cap: OutputCapPolicy | None = None,
        reservation_wait_s: float = 30.0,
    ) -> None:
        telemetry_settings()  # a mistyped ORCHESTRATEX_TRACING or _LOG_CONTENT is an error here, not at the first run
        check_tracer_provider()  # (and an OTEL_PYTHON_TRACER_PROVIDER that names no installed provider)
        check_parts(
            router=(router, Router, "BayesianRouter()"),
            evaluator=(evaluator, Evaluator, "LLMJudgeEvaluator()"),
            retry=(retry, RetryPolicy, "RetryPolicy(max_attempts=3)"),
            store_retry=(store_retry, RetryPolicy, "RetryPolicy(max_attempts=6)"),
            circuit=(circuit, CircuitPolicy, "CircuitPolicy(failure_threshold=5)"),
            output_cap=(output_cap, OutputCapPolicy, "OutputCapPolicy(headroom=2.0)"),
            simulate=(simulate, bool, "True (the simulator) or False (real providers only)"),
            system_prompt=(system_prompt, str, '"You are a helpful assistant."'),
        )
        if router is not None:
            check_router(router)  # (a `def select` failed every run, "can't be used in 'await' expression")
        check_async(evaluator, "evaluate", "task, response")
        if env is not None and not isinstance(env, Mapping):
            raise UserError(f"env must be a mapping of environment variables (like os.environ), not {env!r}")
        _check_env(env)
        self.defaults = validated_settings(
            max_iterations=max_iterations,
            evaluation_threshold=evaluation_threshold,
            max_output_tokens=max_output_tokens,
        )
        """The run defaults given to the constructor (`max_iterations`, `evaluation_threshold`, `max_output_tokens`), as
        `OrchestrationSettings`; read and set them through those attributes."""
        self.providers, self.catalog, self.simulated, self._owned_providers = resolve_providers(
            providers, catalog, simulate, env
        )
        self.router: Router = router or BayesianRouter()
        """Chooses the model of each attempt (`BayesianRouter()` by default); a router put in place applies from the
        next run."""
        self.evaluator: Evaluator = evaluator or LLMJudgeEvaluator()
        """Scores each answer (`LLMJudgeEvaluator()` by default); an evaluator put in place applies from the next run.
        """
        self._retired = []
        self.store = store  # (resolved by its setter: a URL opens a store of the orchestrator's own)
        self.handlers = on_event
        self.retry = retry
        self.store_retry = store_retry
        self.circuit = circuit
        self.judge_max_output_tokens = judge_max_output_tokens
        """The most a judge may write for one verdict (512 by default)."""
        self.judges: list[str] | None = judge_names(self.catalog, judges)
        """Models that may judge (names or aliases; sessions may set their own); every usable model when None.
        Models marked `judge_only` in the catalog judge but are never routing candidates."""
        self.judging: Judging = judging
        """Whether an answer no decision depends on is judged anyway (see `Judging`)."""
        self.output_lengths = OutputLengths(output_cap or OutputCapPolicy())
        """Observed output lengths per model, from which each call's output cap is derived."""
        self._surcharges = Surcharges()
        """What vendors billed each model above its catalog price: its later calls are reserved at that ratio."""
        self.reservation_wait_s = reservation_wait_s
        """How long a run waits for the session's other runs to release reserved budget before `budget`."""
        self.system_prompt = system_prompt
        """The system message sent before the user's prompt (a conversation's own system message replaces it); empty:
        none is sent."""
        self.lease_ttl_s = lease_ttl_s
        """Seconds a run's lease on its orchestration lasts without renewal (renewed every third of it); past it,
        another process may resume the run."""
        self.cancel_check_s = 1.0
        """How often the store is asked which of this orchestrator's running orchestrations should stop (one
        `Store.cancel_requests` call for all of them: `request_cancel` from any process, or their session
        ended); those then end `cancelled`."""
        self._owner = ""
        self._owner_forks = -1
        self._ready: asyncio.Future[None] | None = None
        self._attached = False
        self._attaching: asyncio.Future[None] | None = None  # (`_lifecycle._attach_router`'s, while it attaches)
        self._tasks: dict[str, asyncio.Task[RunResult]] = {}
        self._started: weakref.WeakSet[asyncio.Task[RunResult]] = weakref.WeakSet()
        """The tasks `start` made (each drives one run, and `cancel` cancels it)."""
        self.suspending: set[str] = set()
        """Orchestrations being suspended (see `suspend`); read by the run being stopped."""
        self._cancelling: set[str] = set()
        """Orchestrations `cancel` is stopping: a `suspend` meanwhile leaves them to end `cancelled`."""
        self._stop_asked: set[str] = set()
        """Stored runs whose caller has just asked the store whether to stop them (`Store.cancel_requests`: the
        server's resume pass, for all it resumes at once) and is driving them: a resumed one does not ask again for
        itself as it reads its session. The caller forgets each once its run has ended."""
        self._leases = LeaseKeeper(self)
        self._spent = SpentSoFar()
        """The least each session has spent, as this orchestrator's runs saw it: the basis of a run's first routing
        decision when its caller's `Session` object is older (see `SpentSoFar`)."""
        self._said_other_kind: set[str] = set()
        """The runs left for an orchestrator of their kind (simulated or real models) to resume, said once each."""
        self._watcher = CancelWatcher(self)
        self._closer = Closing()
        self._pools = ModelPools()
        self._shared_prices = SharedPrices()
        """The judging prices its runs share (see `SharedPrices`)."""
        self._runnable: tuple[object, object, tuple[object, ...]] | None = None
        """What `check_runnable` last passed with: the catalog, the evaluator (the very objects) and the values read
        of them (it is not checked again while all of it is the same)."""
        self._portal = Portal()
        self._aclosing: asyncio.Future[None] | None = None
        """Done once the `aclose` under way has returned: another one meanwhile (on its loop) waits for it."""
        self._close_lock = threading.Lock()
        """Held by `close()`: a second one, from another thread meanwhile, waits for the first to return (the first
        stopped `run_sync`'s loop under it, and it raised a bare `CancelledError`)."""
        weakref.finalize(self, self._portal.close)

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        """An orchestrator is not copied nor pickled: `copy.copy` made a twin sharing its event loop thread, leases and
        runs (closing one broke the other), `copy.deepcopy` failed with a `RecursionError` once it had run, and
        `pickle` (handing it to a process pool) with "Can't pickle local object 'WeakSet…'"."""
        raise UserError(
            "an Orchestrator cannot be copied or pickled: it holds an event loop, connections, leases and the runs "
            "under way. Make one in each process (or task) that needs one, with the same settings and store URL"
        )

    def __setattr__(self, name: str, value: Any) -> None:
        """The settings a program may change on a built orchestrator (`cancel_check_s`, `lease_ttl_s`, …) are checked
        on every assignment, as on construction: `cancel_check_s = 0` polled the store in a busy loop, `"1"` failed
        deep inside a run, and `judging = "sometimes"` was taken as "when_needed". `judges` are resolved in the catalog
        as the constructor's are: an unknown name failed each run with "no model can judge the answers of …". A
        `router` or `evaluator` put in place is checked as the constructor's, and a new router is attached to the store
        before the next run (it was never: it learned nothing the store kept, and loaded nothing it held)."""
        if "_close_lock" in self.__dict__:  # (built: `on_event = f` or a typo made an attribute nothing read)
            check_new_attribute(self, name, typos=type(self) is Orchestrator)
            if (
                name == "surcharges"
            ):  # (a copy, read-only: "property 'surcharges' of 'Orchestrator' object has no setter")
                raise UserError(
                    "Orchestrator.surcharges is read-only (a copy of what was learnt): forget a model's ratio with "
                    "reset_surcharges('model') or every one with reset_surcharges()"
                )
            if name == "simulated":  # (set False to turn the simulator off, it mislabelled its answers as real)
                raise UserError(
                    "Orchestrator.simulated says whether every provider is the simulator, and follows them: set "
                    "`orchestrator.providers` (a real provider's adapter), or make a new Orchestrator(simulate=False)"
                )
        check = _SETTINGS.get(name)
        if check is not None:
            check(name, value)
            value = plain(value)  # (numpy's numbers, as taken, kept as Python's own: `np.int64(100)` was refused)
        if name == "system_prompt" and isinstance(value, str) and value and blank(value):
            value = ""  # (one of invisible characters only, a zero-width space or a BOM, was sent as a system message
            # of nothing, which Anthropic's and Gemini's APIs refuse; white space alone was already none)
        if name == "judges" and "catalog" in self.__dict__:  # the catalog's names, as the constructor keeps them
            value = judge_names(self.catalog, value)
        if name == "catalog" and "catalog" in self.__dict__ and not isinstance(value, ModelCatalog):
            check_not_the_class(value)
            raise UserError(
                f"catalog must be a ModelCatalog (ModelCatalog.from_file(path) reads a catalog file), not "
                f"{type(value).__name__} {value!r:.60}"
            )
        if name in _PARTS and "router" in self.__dict__:  # (a part replaced on a built orchestrator)
            _PARTS[name](value)
            if name == "router" and value is not self.router:  # attached to the store at the next run, as the first
                object.__setattr__(self, "_attached", False)  # was: its statistics loaded, its learning kept
        object.__setattr__(self, name, value)

    # `store`, `circuit`, `handlers`, `retry` and `store_retry` are set as the constructor takes them (a store URL, a
    # `CircuitPolicy`, a function alone, None for the default) and read as what they became (a `Store`, the
    # `CircuitBreaker`, a list, a `RetryPolicy`): typed so, `mypy --strict` accepts `orchestrator.circuit =
    # CircuitPolicy(...)` or `orchestrator.handlers = log` in a user's code (plain attributes typed as read refused it).
    @property
    def store(self) -> Store:
        """Where runs, sessions and routing statistics are kept."""
        return self._store

    @store.setter
    def store(self, value: Store | str | None) -> None:
        # (a URL was kept as a str: "'str' object has no attribute 'create_session'"; a store was never opened:
        # "… is not open")
        store, owned = resolve_store(value)
        if self.__dict__.get("_owns_store") and self._store is not store:  # (one it made from a URL, put aside: it
            self._retired.append(self._store)  # stayed open after `close()`, its connection and threads with it)
        if store in self._retired:  # (put back in place: closed as the current store is, if at all)
            self._retired.remove(store)
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_owns_store", owned)
        object.__setattr__(self, "_ready", None)  # opened (and the router attached to it) by the next run
        object.__setattr__(self, "_attached", False)

    @property
    def providers(self) -> dict[str, Provider]:
        """The providers serving the catalog's models, by name (the prefix of their models' names)."""
        return self._providers

    @providers.setter
    def providers(self, value: Mapping[str, Provider] | Iterable[Provider]) -> None:
        # (a list, as the constructor takes it, filed under each one's name: typed `dict[str, Provider]`, a plain
        # attribute made `mypy --strict` refuse `orchestrator.providers = [FunctionProvider(...)]`, which works)
        found = providers_by_name(value)
        object.__setattr__(self, "_providers", found)
        # (as the constructor says it of the providers it is given: `Orchestrator()` without a key, then real
        # providers put in place, kept `simulated=True`, and each real, paid answer was shown "(simulated)")
        simulated = bool(found) and all(p.simulated for p in found.values())
        if simulated != self.__dict__.get("simulated", simulated) and "_said_other_kind" in self.__dict__:
            self._said_other_kind.clear()  # (runs of the other kind than before: resumed here now, `resumable_here`)
        object.__setattr__(self, "simulated", simulated)

    @property
    def circuit(self) -> CircuitBreaker:
        """The per-model circuit breaker; set a `CircuitPolicy` to change its policy (the circuits' states are kept)."""
        return self._circuit

    @circuit.setter
    def circuit(self, value: CircuitPolicy | CircuitBreaker | None) -> None:
        if isinstance(value, CircuitBreaker):
            object.__setattr__(self, "_circuit", value)
            return
        # (`circuit=CircuitPolicy(...)` as the constructor takes it: it replaced the breaker, and every run failed
        # with "'CircuitPolicy' object has no attribute 'quiet'")
        check_parts(circuit=(value, CircuitPolicy, "CircuitPolicy(failure_threshold=5)"))
        if "_circuit" in self.__dict__:
            self._circuit.policy = value or CircuitPolicy()
        else:
            object.__setattr__(self, "_circuit", CircuitBreaker(value))

    @property
    def handlers(self) -> list[EventHandler]:
        """The handlers of every run's events (`on_event=`); set a function alone or a list, as `on_event=` takes. A
        handler added to the list (`append`, `extend`, `insert`, `+=`) is checked as `on_event=` is."""
        return self._handlers

    @handlers.setter
    def handlers(self, value: EventHandler | Sequence[EventHandler]) -> None:
        check_handlers(value)  # (a function alone failed each run with "Value after * must be an iterable", a None in
        object.__setattr__(self, "_handlers", Handlers([value] if callable(value) else value))  # a list a TypeError)

    @property
    def retry(self) -> RetryPolicy:
        """How a failed provider call is retried on the same model (None sets the default, as constructed)."""
        return self._retry

    @retry.setter
    def retry(self, value: RetryPolicy | None) -> None:
        check_parts(retry=(value, RetryPolicy, "RetryPolicy(max_attempts=3)"))
        object.__setattr__(self, "_retry", value or RetryPolicy())

    @property
    def store_retry(self) -> RetryPolicy:
        """How a run retries a store write that failed without writing anything (`StoreUnavailable`)."""
        return self._store_retry

    @store_retry.setter
    def store_retry(self, value: RetryPolicy | None) -> None:
        check_parts(store_retry=(value, RetryPolicy, "RetryPolicy(max_attempts=6)"))
        object.__setattr__(self, "_store_retry", value or DEFAULT_STORE_RETRY)

    # -- opening and closing --------------------------------------------------------------------
    async def aclose(self) -> None:
        """Stop the runs still in flight and wait for them: each ends `cancelled` (its end committed, its reservations
        released) and its caller gets that `RunResult`. Then stop lease renewal and cancel checks and close the
        providers and the store this orchestrator created. Runs started meanwhile are refused (`UserError`), as is a
        call from an event handler of one of its runs (it would wait for that run, which waits for the handler)."""
        handled = self._watcher.handling()
        if handled is not None:  # (it hung there for good; a handler of an earlier event cancelled its own run, and
            raise UserError(  # the orchestrator was left half closed)
                f"aclose() was called from an event handler of orchestration {handled}: it waits for every run of "
                "this orchestrator to end, that one too, which waits for its handler. Close the orchestrator once "
                "the run has returned (to stop the run from its handler, use cancel())"
            )
        loop = asyncio.get_running_loop()
        under_way = self._aclosing
        if under_way is not None and not under_way.done() and under_way.get_loop() is loop:
            # (another task's `aclose` (a shutdown hook's, a teardown's): both closed the store, and the second
            # raised the SQLite store's bare "Stopped: the worker thread was stopped")
            await asyncio.shield(under_way)
            return
        self._aclosing = done = loop.create_future()
        try:
            await self._aclose()
        finally:
            done.set_result(None)

    async def _aclose(self) -> None:
        await self._closer.stop_runs(self._watcher.stop_all, lambda: list(self._tasks.values()))
        await self._leases.aclose()
        await self._watcher.aclose()
        for provider in self._owned_providers:
            await provider.aclose()
        while self._retired:
            await release_store(self, self._retired.pop())
        if self._owns_store:
            await release_store(self, self.store)
            self._ready = None  # (a later run opens it again, as the providers open new connections)

    async def __aenter__(self) -> Self:
        await ensure_ready(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        simulated = ", simulated=True" if self.simulated else ""
        store = type(self.store)
        shown = f"{store.__name__}()" if store.__repr__ is object.__repr__ else repr(self.store)
        return (
            f"Orchestrator(providers={sorted(self.providers)!r}, models={len(self.catalog)}, store={shown}{simulated})"
        )

    # The run defaults given to the constructor, read and set as they were given (`orchestrator.max_iterations = 1`
    # made an attribute no run read: runs went on with the constructor's value), each set checked as it was.
    @property
    def max_iterations(self) -> int:
        """Most attempts of a run that sets none (nor its session)."""
        return self.defaults.max_iterations

    @max_iterations.setter
    def max_iterations(self, value: int) -> None:
        self._set_default("max_iterations", value)

    @property
    def evaluation_threshold(self) -> float:
        """The score that ends a run that sets none."""
        return self.defaults.evaluation_threshold

    @evaluation_threshold.setter
    def evaluation_threshold(self, value: float) -> None:
        self._set_default("evaluation_threshold", value)

    @property
    def max_output_tokens(self) -> int:
        """The most each generation of a run that sets none may write."""
        return self.defaults.max_output_tokens

    @max_output_tokens.setter
    def max_output_tokens(self, value: int) -> None:
        self._set_default("max_output_tokens", value)

    @property
    def output_cap(self) -> OutputCapPolicy:
        """How each call's output cap is derived (see `OutputCapPolicy`). Set anew, it applies from the next decision,
        with the output lengths observed so far forgotten (`orchestrator.output_cap = ...` made an attribute nothing
        read)."""
        return self.output_lengths.policy

    @output_cap.setter
    def output_cap(self, value: OutputCapPolicy | None) -> None:
        check_parts(output_cap=(value, OutputCapPolicy, "OutputCapPolicy(headroom=2.0)"))
        lengths = OutputLengths(value or OutputCapPolicy())
        lengths.version = self.output_lengths.version + 1  # (caps derived from the former lengths are not reused)
        self.output_lengths = lengths

    def _set_default(self, name: str, value: object) -> None:
        current = self.defaults
        values = {k: getattr(current, k) for k in ("max_iterations", "evaluation_threshold", "max_output_tokens")}
        self.defaults = validated_settings(**{**values, name: value})

    @property
    def owner(self) -> str:
        """The lease owner this orchestrator's runs hold their orchestrations under: unique per process, so
        workers forked from one parent (gunicorn's `--preload`, a `multiprocessing` pool) never drive or commit
        each other's runs; drawn anew in a child made by `os.fork()`."""
        if self._owner_forks != forks():
            self._owner = new_owner()
            self._owner_forks = forks()
        return self._owner

    @property
    def cancel_reason(self) -> str:
        """The `error` of a run that is cancelled now."""
        return CLOSED_WHILE_RUNNING if self._closer.closing else "the orchestration was cancelled"

    def close(self) -> None:
        """`aclose` for synchronous code (after `run_sync`); also stops `run_sync`'s event loop thread. In a notebook
        cell (inside the kernel's running loop) with runs under way on that loop (`asyncio.create_task(orchestrator
        .run(...))`), `UserError`: it would wait for them while blocking the loop they need; `await aclose()`."""
        handled = self._watcher.handling() if _in_a_loop() else None
        if handled is not None:  # (it said "… on the running event loop (a notebook's) … use `await aclose()`", which a
            raise UserError(  # plain handler cannot, and which a handler is refused too)
                f"close() was called from an event handler of orchestration {handled}: it waits for every run of "
                "this orchestrator to end, that one too, which waits for its handler. Close the orchestrator once "
                "the run has returned (to stop the run from its handler, use cancel())"
            )
        with contextlib.suppress(RuntimeError):  # (no running loop: nothing of it to wait for)
            if self._closer.under_way_on(asyncio.get_running_loop(), list(self._tasks.values())):
                raise UserError(
                    "close() cannot stop the runs under way on the running event loop (a notebook's): it would wait "
                    "for them while blocking them. Use `await orchestrator.aclose()` there instead (it stops them), "
                    "or await those runs first"
                )
        with self._close_lock:
            self._closer.held += 1
            try:
                self._portal.call(self.aclose(), what="close()", fix="Use `await orchestrator.aclose()`")
            finally:
                try:
                    self._portal.close()
                finally:
                    self._closer.held -= 1

    def __enter__(self) -> Self:
        """Open what `async with` opens (the store, the router's stored statistics), on `run_sync`'s event loop."""
        try:
            self._portal.call(ensure_ready(self), what="with Orchestrator()", fix="Use `async with Orchestrator(...)`")
        except BaseException:
            self._portal.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- models -------------------------------------------------------------------------------
    def provider_for(self, model: ModelProfile) -> Provider:
        """The provider serving `model` (by the prefix of its name); `ProviderNotConfigured`, naming what to set, when
        none is."""
        try:
            return self._providers[model.provider]
        except KeyError:
            raise ProviderNotConfigured(
                f"model {model.name} needs provider {model.provider!r}, which is not configured: "
                f"set {key_hint(model.provider)}",
                provider=model.provider,
            ) from None

    def usable_models(self, preferred: Sequence[str] | None = None) -> list[ModelProfile]:
        """Routing candidates: models that are not disabled nor judge-only, whose provider is configured and
        whose price is known, among `preferred` when given (a name the catalog does not know is an
        `UnknownModelError`, as in `run(preferred_models=...)`). Read from the catalog as it is now (a change to
        the catalog, or to the file it watches, shows at the next call). An empty `preferred` is a `UserError`, as in
        `run(preferred_models=[])`."""
        if isinstance(preferred, str):  # (a name, not a list of them: its letters matched no model, and [] came back)
            raise UserError(f"preferred must be a list of model names, not the string {preferred!r}: [{preferred!r}]")
        preferred = _names("preferred", preferred)
        if preferred == []:  # (every model came back, where `run(preferred_models=[])` is refused)
            raise UserError("preferred is empty: name at least one model, or leave it unset for every model")
        for name in preferred or ():  # (a mistyped name was left out without a word: `["gtp4"]` gave [])
            self.catalog.get(name)  # `UnknownModelError`, as `run(preferred_models=...)` raises
        return self._routable(preferred)

    def _routable(self, preferred: Sequence[str] | None) -> list[ModelProfile]:
        """`usable_models` of a run's stored `preferred_models`: a name the catalog no longer lists (removed while the
        run went on) is left out, not an error."""
        key = ("route", *preferred) if preferred else ("route",)
        return self._pools.get(self.catalog, self._providers, key, preferred, judges=False)

    def judge_models(self, judges: Sequence[str] | None = None) -> list[ModelProfile]:
        """Models that may judge: not disabled, provider configured, priced, among `judges` when given (else
        the orchestrator's `judges`, else every such model); judge-only models included. A name the catalog does
        not know is an `UnknownModelError`, as in `usable_models`; empty `judges`, a `UserError`, as
        `Orchestrator(judges=[])` is."""
        if isinstance(judges, str):
            raise UserError(f"judges must be a list of model names, not the string {judges!r}: [{judges!r}]")
        judges = _names("judges", judges)
        if judges == []:  # (every model came back, where `Orchestrator(judges=[])` and a session's are refused)
            raise UserError(
                "judges is empty: name at least one model, or leave it unset for the orchestrator's judges (else "
                "every model)"
            )
        for name in judges or ():  # (a mistyped name was left out without a word: `["gtp4"]` gave [])
            try:
                self.catalog.get(name)
            except UnknownModelError as exc:
                if not exc.ambiguous:  # (a bare id several endpoints serve names them all)
                    raise
        return self._judge_pool(judges)

    def _judge_pool(self, judges: Sequence[str] | None) -> list[ModelProfile]:
        """`judge_models` of a run's or a session's stored judges: a name the catalog no longer lists (removed
        meanwhile) is left out, not an error."""
        judges = judges or self.judges
        key = ("judge", *judges) if judges else ("judge",)
        return self._pools.get(self.catalog, self._providers, key, judges, judges=True)

    def model_status(self, name: str) -> ModelStatus | Literal["circuit_open", "circuit_half_open"]:
        """`active`, `deprecated` or `disabled` from the catalog, or the circuit state when it is not closed. (Typed as
        those five: it was `str`, so `mypy --strict` passed `model_status(m) == "open"`, never true.)"""
        model = self.catalog.get(name)
        state: CircuitState = self.circuit.state(model.name)
        return "circuit_open" if state == "open" else "circuit_half_open" if state == "half_open" else model.status

    @property
    def surcharges(self) -> dict[str, float]:
        """Per model billed above its catalog price, what its reservations are multiplied by (a copy): the highest ratio
        of a bill to the catalog price of its usage seen, at most 4, forgotten after bills at the catalog price in a
        row (see docs/guarantees.md, The budget). A model not named is reserved at the catalog's prices."""
        return dict(self._surcharges.ratios)

    def reset_surcharges(self, model: str | None = None) -> None:
        """Forget what was learnt of `model` (a name or an alias; every model when None) billed above its catalog
        price: its calls are reserved at the catalog's prices until a bill says otherwise (the first such bill may
        then exceed its reservation, counted as an overage). For a project moved back to OpenAI's default tier."""
        if model is not None and model not in self._surcharges.ratios:
            model = self.catalog.get(model).name  # (an alias; a name the catalog does not know: `UnknownModelError`)
        self._surcharges.reset(model)

    # -- sessions and threads -----------------------------------------------------------------------
    async def create_session(
        self,
        user_id: str = "local",
        *,
        max_iterations: int | None = None,
        preferred_models: Sequence[str] | None = None,
        cost_limit: float | None = None,
        judges: Sequence[str] | None = None,
        judging: Judging | None = None,
    ) -> Session:
        """A new active session whose budget (`cost_limit`) and defaults apply to its orchestrations; `judges` and
        `judging` override the orchestrator's for its runs. A `user_id` not in NFC (`zoë` typed decomposed) is
        stored in NFC, as the server stores its users', unless the store holds sessions under the form given."""
        await ensure_ready(self)
        session = new_session(self, user_id, max_iterations, preferred_models, cost_limit, judges, judging)
        session.user_id = await new_session_user_id(self.store, session.user_id)
        return await self.store.create_session(session)

    async def create_thread(
        self, session_id: Session | str, prompt: str, *, domain: str | None = None, context: str | None = None
    ) -> Thread:
        """A new thread in an active session (given by its id, or the `Session` itself, as `run` takes it); `prompt`
        is its first user message."""
        if isinstance(session_id, Session):
            session_id = session_id.id
        if not isinstance(session_id, str):
            raise UserError(f"session_id must be a session's id (or the Session), not {type(session_id).__name__}")
        await ensure_ready(self)
        session = await read_session(self.store, session_id)
        return await self.store.create_thread(new_thread(session, prompt, domain, context))

    # -- running ------------------------------------------------------------------------------
    async def prepare(
        self,
        prompt: ChatInput,
        *,
        session: Session | str | None = None,
        thread: Thread | str | None = None,
        user_id: str | None = None,
        domain: str | None = None,
        context: str | None = None,
        max_iterations: int | None = None,
        evaluation_threshold: float | None = None,
        preferred_models: Sequence[str] | None = None,
        cost_limit: float | None = None,
        max_output_tokens: int | None = None,
        patience: int | None = None,
        stop_sequences: Sequence[str] | None = None,
    ) -> Orchestration:
        """Validate the request and store a `pending` orchestration (and its session and thread when
        not given); `drive` runs it. `run` is `prepare` then `drive`.

        The orchestration is leased to this orchestrator for `lease_ttl_s`, once (not renewed): another
        process's resume pass on the same store leaves it to this one's `start`, `drive` or `resume_pending`
        meanwhile, and resumes it once that grace is over (at once after `aclose`).

        `prompt` is a string or a conversation: a list of `Message`s or `{"role", "content"}`
        mappings (roles `system`, `developer` (as system), `user`, `assistant`) ending with the
        user message to answer. On an existing `thread`, a prompt without earlier turns continues
        the thread's conversation (its last completed orchestration's turns and final answer come
        first); a list with assistant turns is taken as the whole conversation.

        The orchestration belongs to the `session`'s (or the `thread`'s) user; without either, a new
        session is made for `user_id` (default `"local"`). A `user_id` other than the owner of the session
        given is refused (`UserError`).

        `stop_sequences` (up to 4) say where the answer as delivered ends (the OpenAI-compatible
        endpoint's `stop`): the thread's next turn continues from the final answer cut before the
        first of them; `final_response` stays whole.
        """
        doc, thread_made, _ = await plan(
            self,
            prompt,
            session=session,
            thread=thread,
            user_id=user_id,
            domain=domain,
            context=context,
            max_iterations=max_iterations,
            evaluation_threshold=evaluation_threshold,
            preferred_models=preferred_models,
            cost_limit=cost_limit,
            max_output_tokens=max_output_tokens,
            patience=patience,
            stop_sequences=stop_sequences,
        )
        store, owner, ttl_s = self.store, self.owner, self.lease_ttl_s
        asked = time.monotonic()

        async def create() -> Orchestration:
            # (with its new thread, in one round trip) leased to this orchestrator for `lease_ttl_s`, not renewed: a
            # resume pass of another process on the store leaves it to this one's `start` meanwhile (see `prepared`)
            await store.start(doc, thread=thread_made, owner=owner, ttl_s=ttl_s)
            return doc

        # (with the store retries of a run's writes, as its session: `store_new`)
        stored = await store_new(self, create, partial(store.get_orchestration, doc.id), f"orchestration {doc.id}")
        self._leases.prepared(doc.id, asked)
        return stored

    _plan = plan  # `prepare`'s checks, nothing stored (the server charges its quota before it stores the orchestration)

    async def drive(
        self,
        orchestration: Orchestration | str,
        *,
        on_event: EventHandler | Sequence[EventHandler] = (),
        on_delta: DeltaSink | None = None,
    ) -> RunResult:
        """Run a stored orchestration to its end (or resume one a dead process left unfinished).

        With `on_delta`, generations stream (`Provider.generate_stream`) and each piece of their text
        is handed to it as an `AnswerDelta`."""
        _orchestration_id("drive", orchestration)  # (None or a RunResult: "NotFound: no orchestration 'None'")
        check_handlers(on_event)  # (`on_event=None` raised "TypeError: Value after * must be an iterable" once the
        check_delta_sink(on_delta)  # lease was claimed, as run(on_event=None) says UserError)
        # the run is this task's, as a `run`'s is its caller's, for `cancel` and `suspend` to stop (they returned False
        # and left it going: a run awaited with `drive`, or one `resume_pending` resumed); `start`'s task is its own
        oid = orchestration.id if isinstance(orchestration, Orchestration) else orchestration
        task = asyncio.current_task()
        running = self._tasks.get(oid) if isinstance(oid, str) else None
        mine = isinstance(oid, str) and task is not None and (running is None or running.done())
        if mine:
            self._tasks[oid] = cast(asyncio.Task[RunResult], task)
        try:
            return await drive_stored(self, orchestration, on_event, on_delta)
        finally:
            if mine and self._tasks.get(oid) is task:
                del self._tasks[oid]

    async def run(self, prompt: ChatInput, **options: Unpack[RunOptions]) -> RunResult:
        """Orchestrate `prompt` (a string or a list of chat messages, see `prepare`) to the end and
        return the result. Options are `on_event` and those of `prepare`."""
        running = run_prompt(self, prompt, None, options)
        del options  # (`run_prompt` takes it over: no frame of the run holds it once it is read)
        return await running

    def run_stream(self, prompt: ChatInput, **options: Unpack[RunOptions]) -> RunStream:
        """`run`, as an async iterator of the run's events and `AnswerDelta`s (each answer's text as the
        model produces it), ending with `orchestration_completed` or `orchestration_failed`; then
        `stream.result` is the `RunResult`.

        ```python
        async with orchestrator.run_stream("Explain TCP slow start") as stream:
            async for item in stream:
                ...
        ```
        Leaving the block early cancels the run (it ends `cancelled`, spending settled).
        """
        return stream_run(self, prompt, options)

    def run_sync(self, prompt: ChatInput, **options: Unpack[RunOptions]) -> RunResult:
        """`run` for code without an event loop (scripts): it runs on this orchestrator's own event loop
        (a background thread, started on first use and kept), so providers' connections live across
        calls. Errors are raised as they are. Inside a running event loop (async code) it raises
        `UserError`: use `await orchestrator.run(...)` there; in Jupyter, whose cells run inside the
        kernel's loop, it blocks the cell as any synchronous call does. `close()` stops the loop."""
        handled = self._watcher.handling() if _in_a_loop() else None
        if handled is not None:  # (a plain `def` handler was told to `await orchestrator.run(...)` "there", which it
            raise UserError(  # cannot: "cannot be called from a running event loop (an async function)")
                f"run_sync() was called from an event handler of orchestration {handled}: handlers run on the event "
                "loop of that run, which run_sync would block. Make the handler an `async def` and `await "
                "orchestrator.run(...)` in it, or start the run once run_sync (or run) has returned"
            )
        return self._portal.call(self.run(prompt, **options))

    def start(
        self, orchestration: Orchestration | str, *, on_delta: DeltaSink | None = None
    ) -> asyncio.Task[RunResult]:
        """Drive a prepared orchestration in the background; `cancel(id)` stops it. With `on_delta`, its
        generations stream to it (as `drive`'s). Call it from async code: the task runs on the running event loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # (asyncio said only "no running event loop", and warned of a coroutine never awaited)
            raise UserError(
                "start() runs the orchestration in a task of the running event loop: call it from async code, or run "
                "it to its end from synchronous code with run_sync(...) (or asyncio.run(orchestrator.drive(id)))"
            ) from None
        _orchestration_id("start", orchestration)
        check_delta_sink(on_delta)
        return start_task(self, orchestration, on_delta)

    async def cancel(self, orchestration_id: Orchestration | str) -> bool:
        """Cancel a running orchestration of this process (one whose task is still starting too); it ends with
        `stop_reason="cancelled"`. The task `start` made is cancelled; a caller of `run` (or a stream) gets the
        cancelled `RunResult`, not a `CancelledError` it did not ask for. Returns once the run has ended. It may be
        awaited on another event loop than the run's (a `run_sync` run, from `asyncio.run` in another thread): it
        acts on the run's loop. A run `prepare` stored that no task drives yet (`pending`) is ended `cancelled` at
        once, before any call, so that no later `start` or `resume_pending` runs it; so is a `running` one whose
        process died (a restarted kernel) once its lease has expired, releasing what it held (False while another
        process still holds its lease). Takes the orchestration's id, or the `Orchestration` itself (as `start` and
        `drive` do).

        Returns True when it ended the run (called from the run's own event handler: at once, the run stopping at
        its next step), False when there was nothing to cancel: the run had already ended, another process holds it,
        or the store has no such run. Raises `StoreUnavailable` when the store did not take the cancel (a SQLite file
        locked past every retry, MongoDB unreachable): the run was NOT cancelled; it is stopped here, its lease kept,
        and the cancel written as soon as the store answers."""
        orchestration_id = _orchestration_id("cancel", orchestration_id)
        task = self._tasks.get(orchestration_id)
        if task is None:
            return await self._cancel_pending(orchestration_id)
        if task.done():
            return False
        if task.get_loop() is not asyncio.get_running_loop():  # (`run_sync`'s, from `asyncio.run` or another thread)
            return await _on_loop_of(task, self.cancel(orchestration_id))
        if self._watcher.ending_within(orchestration_id):  # a handler of its last event (that of a run cancelled
            return False  # before hung there: it waited for the run to end, which waited for the handler)
        if task is asyncio.current_task():  # the run's own event handler: it stops at its next step
            return self._watcher.stop_own(orchestration_id)
        # (a cancel wins over a `suspend` under way or asked meanwhile, a graceful shutdown's: the run was left
        # `running`, for the next process to resume and pay for, though this cancel returned True)
        self.suspending.discard(orchestration_id)
        self._cancelling.add(orchestration_id)
        try:
            if task not in self._started:  # `run` (or a stream) drives it in its caller's task, which goes on after it
                ended = self._watcher.stop(orchestration_id)  # the caller gets the cancelled RunResult
                if ended is not None:
                    await asyncio.shield(ended)
                    self._check_cancel_written(orchestration_id, task)
                    return True
            if not self._watcher.stop_when_driven(orchestration_id, task):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            self._check_cancel_written(orchestration_id, task)
            return True
        finally:
            self._cancelling.discard(orchestration_id)

    def _check_cancel_written(self, orchestration_id: str, task: asyncio.Task[RunResult]) -> None:
        """Raise `StoreUnavailable` when the run `task` drove was stopped but the store did not take its cancel (a
        SQLite file another process held locked past every retry, MongoDB unreachable): `cancel` returned True, the
        run stayed `running` (or `pending`), and once its lease expired the next resume pass of a process on the
        store resumed the run the user had cancelled, and paid for it."""
        if self._leases.owed.get(orchestration_id, True):  # (not owed, or its start may not have been stored)
            return
        failure = task.exception() if task.done() and not task.cancelled() else None
        why = f" ({failure})" if failure is not None else ""
        raise StoreUnavailable(
            f"orchestration {orchestration_id} was NOT cancelled: the store did not take its cancel{why}. It is "
            "stopped here, and this orchestrator keeps its lease (no other process resumes it) and writes the cancel "
            f"as soon as the store answers (tried every {self.lease_ttl_s / 3:g} s); closed before then, it stays as "
            "it was and any process's resume_pending() resumes it once its lease expires"
        )

    async def _cancel_pending(self, orchestration_id: str) -> bool:
        """`cancel` of a stored `pending` run no task of this orchestrator drives, or a `running` one a dead process
        left: driven here only to end it `cancelled` as it begins (its `orchestration_failed` event committed, no call
        made). False when it has ended, or another process holds its lease (claimed it first, or still drives it)."""
        if not isinstance(orchestration_id, str):
            return False
        await ensure_ready(self)
        try:
            if (await self.store.get_orchestration(orchestration_id)).status not in ("pending", "running"):
                return False
            task = self.start(orchestration_id)
        except (NotFound, UserError):
            return False
        self._watcher.end_on_entry(orchestration_id, task)
        self._cancelling.add(orchestration_id)  # (a cancel the store does not take keeps the lease: `keep_for_cancel`)
        try:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        finally:
            self._cancelling.discard(orchestration_id)
        self._check_cancel_written(orchestration_id, task)
        return (await self.store.get_orchestration(orchestration_id)).status == "cancelled"

    async def suspend(self, orchestration_id: Orchestration | str) -> bool:
        """Stop driving a running orchestration of this process without ending it (a graceful shutdown).

        The step in progress is abandoned — what it already spent is counted, its reservations are
        released and the calls it had in flight are recorded (`Orchestration.abandoned_calls`: the run
        resuming it makes them again and counts them in `interrupted_calls`) — the orchestration stays
        `running` and its lease is given up, so `resume_pending()` in any process continues it from its
        last committed step.
        """
        orchestration_id = _orchestration_id("suspend", orchestration_id)
        task = self._tasks.get(orchestration_id)
        if task is None or task.done():
            return False
        if task.get_loop() is not asyncio.get_running_loop():
            return await _on_loop_of(task, self.suspend(orchestration_id))
        if orchestration_id in self._cancelling:  # being cancelled: it ends `cancelled`, as that call asked
            return False
        if self._watcher.ending_within(orchestration_id):  # a handler of its last event: nothing to suspend (that of a
            return False  # cancelled run waited for itself there)
        if task is asyncio.current_task():
            raise UserError(
                f"suspend({orchestration_id!r}) was called from that orchestration's own task (an event handler of "
                "its run): a run cannot wait for itself to stop. Call it from another task, or use cancel() there"
            )
        self.suspending.add(orchestration_id)
        try:
            # `run` (or a stream) drives it in its caller's task, which goes on after it: the run is stopped there and
            # its caller gets the suspended `RunResult` (status `running`), not a `CancelledError` it did not ask for
            ended = None if task in self._started else self._watcher.stop(orchestration_id)
            if ended is not None:
                await asyncio.shield(ended)
                return True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        finally:
            self.suspending.discard(orchestration_id)
        return True

    async def resume_pending(self, *, limit: int = 100, concurrency: int = 8) -> list[RunResult]:
        """Resume every orchestration a dead process left `pending` or `running` (their lease expired),
        from its last persisted step: no saved paid call is repeated, no event lost or duplicated.

        Up to `limit` of them, `concurrency` at a time, each on its own: one another process claims first is left
        out, and one whose run raises (a store fault: a failing event handler never does) is logged on
        `orchestratex.orchestrator` and returned as the store then has it, while the others go on. The results
        follow the store's order (oldest first). A `UserError` (this orchestrator refuses to run: it is closing) is
        raised once the others have returned."""
        return await resume_pending(self, limit, concurrency)

    def lease_given_up(self, orchestration_id: str) -> None:
        """The final commit of a run of this process released its lease: it is no longer renewed."""
        self._leases.drop(orchestration_id)


async def _on_loop_of(task: asyncio.Task[RunResult], call: Coroutine[Any, Any, bool]) -> bool:
    """`call` (`cancel` or `suspend` of `task`'s run) run on `task`'s event loop, in that loop's thread: a task is
    stopped and awaited only there. False when that loop no longer runs (nothing there can end)."""
    loop = task.get_loop()
    if not loop.is_running() or loop.is_closed():
        call.close()
        return False
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call, loop))


def _check_env(env: Mapping[str, str] | None) -> None:
    """`UserError` for an `env` whose names or values are not text, as the environment's are: a pydantic `SecretStr`
    (a settings object's key), a number or bytes failed with "AttributeError: 'SecretStr' object has no attribute
    'isspace'". The value is not shown: it may be a key."""
    for name, value in (env or {}).items():
        if not isinstance(name, str):
            raise UserError(f"env maps names of environment variables (text) to their values, not {name!r}")
        if value is not None and not isinstance(value, str):
            fix = "value.get_secret_value()" if hasattr(value, "get_secret_value") else "its text"
            raise UserError(
                f"env[{name!r}] must be text, as an environment variable's value is, not {type(value).__name__}: "
                f"pass {fix}"
            )


def _orchestration_id(what: str, orchestration: object) -> str:
    """The id `cancel`, `suspend`, `start` or `drive` is given, or the `Orchestration`'s (it was "TypeError: unhashable
    type: 'Orchestration'"); `UserError` for anything else (`start(result)` of a `RunResult` raised "TypeError:
    unhashable type: 'RunResult'" and left a task failing with `NotFound`; `drive(None)` said "no orchestration
    'None'")."""
    if isinstance(orchestration, Orchestration):
        return orchestration.id
    if not isinstance(orchestration, str):
        hint = f": pass its id, {what}(result.id)" if isinstance(orchestration, RunResult) else ""
        raise UserError(
            f"{what}() takes an orchestration's id (or the Orchestration), not {type(orchestration).__name__} "
            f"{orchestration!r:.60}{hint}"
        )
    return orchestration


def _names(name: str, names: object) -> list[str] | None:
    """`names` as a list, or None; `UserError` unless it is None or a list of names (`usable_models(5)` was
    "TypeError: 'int' object is not iterable"). Read once: a generator was used up by the check of its names, and the
    empty pool then read was kept for every later run (each failed, "no model is available"); a numpy array failed
    with "The truth value of an array with more than one element is ambiguous"."""
    if names is not None and (not isinstance(names, Iterable) or isinstance(names, bytes | Mapping)):
        raise UserError(f"{name} must be a list of model names, not {type(names).__name__} {names!r:.60}")
    return None if names is None else list(names)


def _seconds(name: str, value: object) -> None:
    check_seconds(**{name: value})


def _positive_seconds(name: str, value: object) -> None:
    if not is_real(value) or not 0 < value < float("inf"):  # type: ignore[operator]
        raise UserError(f"{name} must be a finite number of seconds > 0, not {value!r}")


def _tokens(name: str, value: object) -> None:
    if not is_whole(value) or value < 1:  # type: ignore[operator]
        raise UserError(f"{name} must be an int >= 1, not {value!r}")


def _judging(name: str, value: object) -> None:
    if value not in ("always", "when_needed", "when_possible"):
        raise UserError(f"{name} must be 'always', 'when_needed' or 'when_possible', not {value!r}")


def _text(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise UserError(f'{name} must be a string ("" for none), not {type(value).__name__} {value!r}')


def _router(value: object) -> None:
    if value is None:
        raise UserError("router must be like BayesianRouter(), not None")
    check_parts(router=(value, Router, "BayesianRouter()"))
    check_router(cast(Router, value))


def _evaluator(value: object) -> None:
    if value is None:
        raise UserError("evaluator must be like LLMJudgeEvaluator(), not None")
    check_parts(evaluator=(value, Evaluator, "LLMJudgeEvaluator()"))
    check_async(value, "evaluate", "task, response")


def _in_a_loop() -> bool:
    """Whether this runs inside a running event loop (an event handler, a notebook cell, an async function)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


_PARTS: dict[str, Callable[[object], None]] = {"router": _router, "evaluator": _evaluator}
"""The parts of a built orchestrator checked when they are replaced, as the constructor checks them."""

_SETTINGS: dict[str, Callable[[str, object], None]] = {
    "cancel_check_s": _positive_seconds,
    "lease_ttl_s": _positive_seconds,
    "reservation_wait_s": _seconds,
    "judge_max_output_tokens": _tokens,
    "judging": _judging,
    "system_prompt": _text,
}
"""The settings of a built orchestrator checked on assignment, each by what it must be."""
