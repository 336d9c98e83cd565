"""The orchestration loop: `Orchestrator` and its policies."""

from __future__ import annotations

from ._budget import OutputCapPolicy
from ._chat import ChatInput, MessageLike
from ._circuit import CircuitBreaker, CircuitState
from ._judges import Judging
from ._policies import CircuitPolicy, RetryPolicy
from ._result import RunOptions, RunResult
from ._stream import AnswerDelta, RunStream, StreamItem
from .orchestrator import Orchestrator

__all__ = [
    "AnswerDelta",
    "ChatInput",
    "CircuitBreaker",
    "CircuitPolicy",
    "CircuitState",
    "Judging",
    "MessageLike",
    "Orchestrator",
    "OutputCapPolicy",
    "RetryPolicy",
    "RunOptions",
    "RunResult",
    "RunStream",
    "StreamItem",
]
