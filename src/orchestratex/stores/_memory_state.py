"""The tables a `MemoryStore` keeps, shared by the modules that implement its methods.

`MemoryStore` (`memory.py`: sessions, threads, orchestrations and the writes of a run, leases,
cancellation, router statistics) is this class with the methods of `_memory_analytics` and
`_memory_server` (API keys and counters) mixed in; each of them reads and writes the tables below.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..exceptions import NotFound
from ..records import ApiKey, Session
from ._base import RoutingStat, Store
from ._memory_rows import EventStream, OrchestrationRow, Row

__all__ = ["SWEEP_AT", "Budget", "MemoryState", "RoutingSums"]

SWEEP_AT = 10_000
"""Expired counters are swept when this many exist (and then when the live ones double)."""


class Budget:
    """A session's money, in pico-dollars."""

    __slots__ = ("limit", "reserved", "spent_at", "total")

    def __init__(self, total: int, limit: int | None) -> None:
        self.total = total
        self.reserved = 0
        self.limit = limit
        self.spent_at: datetime | None = None
        """When the last spending was recorded: the session's `updated_at` from then on."""


class RoutingSums:
    """The sums of one `RoutingStat`, in a plain slotted object (a pydantic model's `+=` costs ~1 µs each)."""

    __slots__ = ("cost_sum", "latency_ms_sum", "n", "output_tokens_sum", "score_sq_sum", "score_sum")

    def __init__(self) -> None:
        self.n = self.output_tokens_sum = 0
        self.score_sum = self.score_sq_sum = self.cost_sum = self.latency_ms_sum = 0.0

    def stat(self, domain: str, model_name: str) -> RoutingStat:
        return RoutingStat(
            domain=domain,
            model_name=model_name,
            n=self.n,
            score_sum=self.score_sum,
            score_sq_sum=self.score_sq_sum,
            cost_sum=self.cost_sum,
            latency_ms_sum=self.latency_ms_sum,
            output_tokens_sum=self.output_tokens_sum,
        )


class MemoryState(Store):
    """A `MemoryStore`'s tables (an abstract `Store`: `MemoryStore` implements it)."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._budgets: dict[str, Budget] = {}
        self._sessions_by_user: dict[str, list[str]] = {}
        self._threads: dict[str, Row] = {}
        self._threads_by_session: dict[str, list[str]] = {}
        self._orchestrations: dict[str, OrchestrationRow] = {}
        self._orchestrations_by_session: dict[str, list[str]] = {}
        self._orchestrations_by_thread: dict[str, tuple[str, ...]] = {}
        """A tuple, not a list: most threads have one orchestration, and a tuple of strings is not GC-tracked."""
        self._active: dict[str, None] = {}
        """Ids of pending/running orchestrations, in insertion order."""
        self._events: dict[str, EventStream] = {}
        self._calls_by_user: dict[str, list[Row]] = {}
        self._calls_by_session: dict[str, list[Row]] = {}
        self._calls_by_model: dict[str, list[Row]] = {}
        self._reservations: dict[tuple[str, str], int] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._counters: dict[str, list[Any]] = {}
        self._sweep_at = SWEEP_AT
        self._routing: dict[tuple[str, str, str], RoutingSums] = {}
        self._api_keys: dict[str, ApiKey] = {}
        self._cancel_requests: set[str] = set()

    def _session(self, session_id: str) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise NotFound(f"no session {session_id!r}")
        return session
