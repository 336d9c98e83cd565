"""What one step of a run reserves, spends and calls, and how a run is stopped."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from ..providers import GenerationRequest
from ..records import CallRecord, StopReason
from ..usage import Usage

__all__ = ["EPS", "NO_TOKENS", "Ledger", "Ready", "Role", "Stop", "assign"]

EPS = 1e-12
"""Dollars of tolerance when comparing a cost with what is left."""

Role = Literal["generate", "judge"]

NO_TOKENS = Usage.model_construct()
"""The `usage` of a new orchestration (frozen: one for all; its first step's usage replaces it, not added to it).
Constructed, not validated: `Usage()` built `Usage`'s validator at import, and with it pydantic's first schema (its
plugin look-up through `importlib.metadata` included), a quarter of `from orchestratex import Orchestrator`."""


def assign(record: BaseModel, **fields: object) -> None:
    """Set `fields` of `record` at once, as pydantic's own assignment does for a model without
    `validate_assignment` (the values are already valid), without its per-field dispatch."""
    record.__dict__.update(fields)
    record.__pydantic_fields_set__.update(fields)


class Stop(Exception):
    """Ends the run with `reason`; `ledger` holds what the step spent and reserved, settled by the final commit."""

    def __init__(self, reason: StopReason, error: str | None = None, ledger: Ledger | None = None) -> None:
        super().__init__(error or reason)
        self.reason: StopReason = reason
        self.error = error
        self.ledger = ledger


class Ledger:
    """What one step reserved, spent and called; settled by one store commit.

    Its amounts and calls are tuples, grown by a new tuple: a step records one to three of each, and a ledger
    waiting on a model then holds the shared empty tuple rather than three empty lists for the cyclic garbage
    collector to walk."""

    __slots__ = ("calls", "overage", "reserved_in_store", "reserved_local", "settled", "spent", "usage")

    def __init__(self) -> None:
        self.reserved_in_store = 0.0
        self.reserved_local = 0.0
        self.spent: tuple[float, ...] = ()
        self.overage: tuple[float, ...] = ()
        """What calls cost above the worst case reserved for them (see `Run._overage`)."""
        self.usage: Usage | None = None
        """The tokens of the calls that `spent` counts (of those that reported any)."""
        self.calls: tuple[CallRecord, ...] = ()
        self.settled: float | None = None
        """The step's spending once added to the orchestration's `total_cost` (it is added once)."""


class Ready:
    """A generation prepared at its selection, whose reservation rode on the selection's commit."""

    __slots__ = ("index", "ledger", "model_name", "prepay", "request", "worst")

    def __init__(self, index: int, model_name: str, request: GenerationRequest, worst: float, prepay: float) -> None:
        self.index, self.model_name, self.request = index, model_name, request
        self.worst, self.prepay = worst, prepay
        self.ledger = Ledger()
