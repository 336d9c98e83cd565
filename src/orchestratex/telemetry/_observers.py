"""Observers of an orchestrator's runs (the server's Prometheus metrics are one), fed by the same hooks as
logs and spans."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from ..records import Orchestration

__all__ = ["CallOutcome", "RunObserver", "add_observer", "notify", "observers_of", "remove_observer"]

logger = logging.getLogger("orchestratex.telemetry")

Outcome = Literal["ok", "error", "cancelled"]


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """One model call as an observer sees it (all its retries included)."""

    model: str
    provider: str
    role: str
    """`generate` or `judge`."""
    outcome: Outcome
    duration_s: float
    cost: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    error_type: str | None = None


class RunObserver(Protocol):
    """Called synchronously from the run: keep each method cheap. An exception it raises is logged (on
    `orchestratex.telemetry`, the first of each observer's method with its traceback) and never reaches the run."""

    def orchestration_started(self, doc: Orchestration) -> None: ...

    def orchestration_ended(self, doc: Orchestration, duration_s: float) -> None:
        """The run stopped driving `doc`: its `status` says whether it ended or was suspended (`running`)."""

    def model_called(self, call: CallOutcome) -> None: ...


_observers: weakref.WeakKeyDictionary[object, tuple[RunObserver, ...]] = weakref.WeakKeyDictionary()


def add_observer(orchestrator: object, observer: RunObserver) -> None:
    """Have `observer` see every run `orchestrator` drives from now on (once: adding it again changes nothing, as
    `logging.Logger.addHandler` does, where it saw every run and call twice, doubling counts)."""
    observers = _observers.get(orchestrator, ())
    if any(o is observer for o in observers):
        return
    _observers[orchestrator] = (*observers, observer)


def remove_observer(orchestrator: object, observer: RunObserver) -> None:
    _observers[orchestrator] = tuple(o for o in _observers.get(orchestrator, ()) if o is not observer)


def observers_of(orchestrator: object) -> tuple[RunObserver, ...]:
    return _observers.get(orchestrator, ())


_FAILED: weakref.WeakKeyDictionary[object, set[str]] = weakref.WeakKeyDictionary()
"""The methods of each observer that failed already: logged in full once, then at DEBUG."""


def notify(method: Callable[..., Any], *args: Any) -> None:
    """Call an observer's `method`: what it raises is logged, not raised. An observer is the application's (or the
    server's metrics): its failure, a metrics client's bug say, must not fail a run, which has paid for its calls."""
    try:
        method(*args)
    except Exception:
        owner = getattr(method, "__self__", method)
        name = getattr(method, "__name__", "?")
        try:
            failed = _FAILED.setdefault(owner, set())
        except TypeError:  # (an observer that takes no weak reference: every failure in full)
            failed = set()
        first = name not in failed
        failed.add(name)
        logger.log(
            logging.ERROR if first else logging.DEBUG,
            "the run observer %s failed in %s (the run goes on)",
            type(owner).__qualname__,
            name,
            exc_info=first,
        )
