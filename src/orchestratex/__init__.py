"""OrchestrateX: send each prompt to the most suitable LLM, have other models judge the answer, and
refine it until it is good enough — within a budget that is never exceeded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .catalog import ModelCatalog, ModelProfile
from .domains import DOMAINS, detect_domain
from .evaluation import EvaluationTask, Evaluator, IsotonicCalibration, LLMJudgeEvaluator, LogisticCalibration
from .events import (
    EVENT_ADAPTER,
    EvaluationCompleted,
    Event,
    EventHandler,
    ModelSelected,
    OrchestrationCompleted,
    OrchestrationFailed,
    OrchestrationStarted,
    ResponseGenerated,
)
from .exceptions import (
    BudgetExceeded,
    EvaluationError,
    OrchestrateXError,
    ProviderError,
    UserError,
)
from .orchestrator import (
    AnswerDelta,
    ChatInput,
    CircuitPolicy,
    Orchestrator,
    OutputCapPolicy,
    RetryPolicy,
    RunResult,
    RunStream,
)
from .providers import (
    FunctionProvider,
    Generation,
    GenerationRequest,
    Message,
    Provider,
)
from .records import (
    Evaluation,
    Iteration,
    Orchestration,
    OrchestrationSettings,
    RoutingDecision,
    Session,
    SessionSettings,
    Thread,
)
from .routing import BayesianRouter, Router, RoutingFeedback, Task
from .stores import Analytics, MemoryStore, Store, open_store
from .usage import Usage

if TYPE_CHECKING:
    from .providers.simulated import SimulatedProvider
    from .stores.sqlite import SQLiteStore

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # the SQLite store and the simulator load on first use, keeping `import orchestratex` light
    if name == "SQLiteStore":
        from .stores.sqlite import SQLiteStore

        return SQLiteStore
    if name == "SimulatedProvider":
        from .providers.simulated import SimulatedProvider

        return SimulatedProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "DOMAINS",
    "EVENT_ADAPTER",
    "Analytics",
    "AnswerDelta",
    "BayesianRouter",
    "BudgetExceeded",
    "ChatInput",
    "CircuitPolicy",
    "Evaluation",
    "EvaluationCompleted",
    "EvaluationError",
    "EvaluationTask",
    "Evaluator",
    "Event",
    "EventHandler",
    "FunctionProvider",
    "Generation",
    "GenerationRequest",
    "IsotonicCalibration",
    "Iteration",
    "LLMJudgeEvaluator",
    "LogisticCalibration",
    "MemoryStore",
    "Message",
    "ModelCatalog",
    "ModelProfile",
    "ModelSelected",
    "OrchestrateXError",
    "Orchestration",
    "OrchestrationCompleted",
    "OrchestrationFailed",
    "OrchestrationSettings",
    "OrchestrationStarted",
    "Orchestrator",
    "OutputCapPolicy",
    "Provider",
    "ProviderError",
    "ResponseGenerated",
    "RetryPolicy",
    "Router",
    "RoutingDecision",
    "RoutingFeedback",
    "RunResult",
    "RunStream",
    "SQLiteStore",
    "Session",
    "SessionSettings",
    "SimulatedProvider",
    "Store",
    "Task",
    "Thread",
    "Usage",
    "UserError",
    "__version__",
    "detect_domain",
    "open_store",
]
