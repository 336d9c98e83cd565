"""The orchestration loop: `Orchestrator` and its policies."""

from __future__ import annotations

from ._chat import ChatInput, MessageLike
from ._circuit import CircuitBreaker, CircuitState
from ._policies import CircuitPolicy, RetryPolicy
from ._stream import AnswerDelta, RunStream, StreamItem
from .orchestrator import Orchestrator, RunOptions, RunResult

__all__ = [
    "AnswerDelta",
    "ChatInput",
    "CircuitBreaker",
    "CircuitPolicy",
    "CircuitState",
    "MessageLike",
    "Orchestrator",
    "RetryPolicy",
    "RunOptions",
    "RunResult",
    "RunStream",
    "StreamItem",
]
