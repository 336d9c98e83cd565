"""A per-model circuit breaker."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ._policies import CircuitPolicy

__all__ = ["CircuitBreaker", "CircuitState"]

CircuitState = Literal["closed", "open", "half_open"]


@dataclass(slots=True)
class _Model:
    failures: int = 0
    opened_at: float | None = None
    trial_in_flight: bool = False
    unserved: str | None = None
    """Its last failure's words when it was `ModelNotFound` (its server does not serve it: an Ollama model not
    pulled), else None."""


class CircuitBreaker:
    """Tracks consecutive failures per model and keeps a failing model out while it cools down."""

    def __init__(self, policy: CircuitPolicy | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy or CircuitPolicy()
        self._clock = clock
        self._models: dict[str, _Model] = {}

    def __repr__(self) -> str:
        """Its policy and the models whose circuit is not closed (`CircuitBreaker(CircuitPolicy(…), open=['sim:o3'])`),
        not `<… object at 0x…>`: what a notebook shows for `orchestrator.circuit`."""
        states: dict[str, list[str]] = {}
        for model in sorted(self._models):
            state = self.state(model)
            if state != "closed":
                states.setdefault(state, []).append(model)
        shown = "".join(f", {state}={names!r}" for state, names in states.items()) or ", all closed"
        return f"CircuitBreaker({self.policy!r}{shown})"

    def state(self, model: str) -> CircuitState:
        entry = self._models.get(model)
        if entry is None or entry.opened_at is None:
            return "closed"
        if self._clock() - entry.opened_at >= self.policy.cooldown_s:
            return "half_open"
        return "open"

    def retry_in(self, model: str) -> float:
        """Seconds until `model`'s open circuit lets a trial call through (0 when it is not open)."""
        entry = self._models.get(model)
        if entry is None or entry.opened_at is None:
            return 0.0
        return max(0.0, self.policy.cooldown_s - (self._clock() - entry.opened_at))

    @property
    def quiet(self) -> bool:
        """No model has failed recently: every circuit is closed, and stays closed until a failure."""
        return not self._models

    def allows(self, model: str) -> bool:
        """Whether a call to `model` may be made now (a half-open circuit allows one trial at a time)."""
        if model not in self._models:  # the common case: no recent failure
            return True
        state = self.state(model)
        if state == "closed":
            return True
        if state == "half_open":
            return not self._models[model].trial_in_flight
        return False

    def before_call(self, model: str) -> None:
        entry = self._models.get(model)
        if entry is not None and self.state(model) == "half_open":
            entry.trial_in_flight = True

    def end_trial(self, model: str) -> None:
        """A call ended with no word on the model's health (cancelled in flight, a prompt too long for it, an answer
        that could not be read): a half-open circuit lets the next call through as its trial, rather than waiting
        for this one's verdict forever."""
        entry = self._models.get(model)
        if entry is not None:
            entry.trial_in_flight = False

    def record_success(self, model: str) -> None:
        if model in self._models:
            del self._models[model]

    def record_failure(self, model: str, *, at_once: bool = False, unserved: str | None = None) -> None:
        """One more failed attempt of `model`: its circuit opens after `failure_threshold` in a row, or `at_once` (a
        failure no later attempt can cure in the meantime, such as a refused key). `unserved` is the failure's words
        when the model's server said it does not serve it (`ModelNotFound`): see `unserved`."""
        entry = self._models.setdefault(model, _Model())
        entry.trial_in_flight = False
        entry.unserved = unserved
        entry.failures += 1
        if at_once or entry.opened_at is not None or entry.failures >= self.policy.failure_threshold:
            entry.opened_at = self._clock()

    def unserved(self, model: str) -> str | None:
        """Why `model`'s server does not serve it, in its last failure's words, when that failure said so
        (`ModelNotFound`, an Ollama model not pulled): its circuit open, waiting out the cooldown will not help. None
        otherwise."""
        entry = self._models.get(model)
        return None if entry is None else entry.unserved

    def snapshot(self) -> dict[str, CircuitState]:
        """The state of every model that has failed recently."""
        return {name: self.state(name) for name in self._models}
