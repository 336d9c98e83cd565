"""The orchestration loop: `Orchestrator` and its policies."""

from __future__ import annotations

from ._budget import OutputCapPolicy
from ._circuit import CircuitBreaker, CircuitState
from ._judges import Judging
from ._policies import CircuitPolicy, RetryPolicy
from .orchestrator import Orchestrator, RunOptions, RunResult

__all__ = [
    "CircuitBreaker",
    "CircuitPolicy",
    "CircuitState",
    "Judging",
    "Orchestrator",
    "OutputCapPolicy",
    "RetryPolicy",
    "RunOptions",
    "RunResult",
]
