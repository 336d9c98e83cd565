"""Observers of an orchestrator's runs (the server's Prometheus metrics are one), fed by the same hooks as
logs and spans."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from ..records import Orchestration

__all__ = ["CallOutcome", "RunObserver", "add_observer", "observers_of", "remove_observer"]

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
    """Called synchronously from the run: keep each method cheap and never raise."""

    def orchestration_started(self, doc: Orchestration) -> None: ...

    def orchestration_ended(self, doc: Orchestration, duration_s: float) -> None:
        """The run stopped driving `doc`: its `status` says whether it ended or was suspended (`running`)."""

    def model_called(self, call: CallOutcome) -> None: ...


_observers: weakref.WeakKeyDictionary[object, tuple[RunObserver, ...]] = weakref.WeakKeyDictionary()


def add_observer(orchestrator: object, observer: RunObserver) -> None:
    """Have `observer` see every run `orchestrator` drives from now on."""
    _observers[orchestrator] = (*_observers.get(orchestrator, ()), observer)


def remove_observer(orchestrator: object, observer: RunObserver) -> None:
    _observers[orchestrator] = tuple(o for o in _observers.get(orchestrator, ()) if o is not observer)


def observers_of(orchestrator: object) -> tuple[RunObserver, ...]:
    return _observers.get(orchestrator, ())
