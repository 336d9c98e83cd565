"""OrchestrateX: send each prompt to the most suitable LLM, have other models judge the answer, and
refine it until it is good enough — within a budget that is never exceeded."""

# Nothing is imported here (not even `typing`, which loads `re`, `enum` and `contextlib`): the `orchestratex` command's
# script imports this package before its `main()` can take a Ctrl-C, which then printed a traceback of the import
# machinery. (mypy takes a `TYPE_CHECKING` of the module's own as `typing`'s.)
TYPE_CHECKING = False
if TYPE_CHECKING:
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
    from .providers.simulated import SimulatedProvider
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
    from .stores.sqlite import SQLiteStore
    from .usage import Usage

__version__ = "0.1.0"

# Every public name loads with its module on first use (PEP 562), so `import orchestratex` costs almost
# nothing and `from orchestratex import Orchestrator` loads only what the orchestrator needs (never the
# SQLite store, the simulator, the server, numpy or a vendor SDK until asked for).
_LAZY: dict[str, str] = {
    "Analytics": ".stores",
    "AnswerDelta": ".orchestrator",
    "BayesianRouter": ".routing",
    "BudgetExceeded": ".exceptions",
    "ChatInput": ".orchestrator",
    "CircuitPolicy": ".orchestrator",
    "DOMAINS": ".domains",
    "EVENT_ADAPTER": ".events",
    "Evaluation": ".records",
    "EvaluationCompleted": ".events",
    "EvaluationError": ".exceptions",
    "EvaluationTask": ".evaluation",
    "Evaluator": ".evaluation",
    "Event": ".events",
    "EventHandler": ".events",
    "FunctionProvider": ".providers",
    "Generation": ".providers",
    "GenerationRequest": ".providers",
    "IsotonicCalibration": ".evaluation",
    "Iteration": ".records",
    "LLMJudgeEvaluator": ".evaluation",
    "LogisticCalibration": ".evaluation",
    "MemoryStore": ".stores",
    "Message": ".providers",
    "ModelCatalog": ".catalog",
    "ModelProfile": ".catalog",
    "ModelSelected": ".events",
    "OrchestrateXError": ".exceptions",
    "Orchestration": ".records",
    "OrchestrationCompleted": ".events",
    "OrchestrationFailed": ".events",
    "OrchestrationSettings": ".records",
    "OrchestrationStarted": ".events",
    "Orchestrator": ".orchestrator",
    "OutputCapPolicy": ".orchestrator",
    "Provider": ".providers",
    "ProviderError": ".exceptions",
    "ResponseGenerated": ".events",
    "RetryPolicy": ".orchestrator",
    "Router": ".routing",
    "RoutingDecision": ".records",
    "RoutingFeedback": ".routing",
    "RunResult": ".orchestrator",
    "RunStream": ".orchestrator",
    "SQLiteStore": ".stores.sqlite",
    "Session": ".records",
    "SessionSettings": ".records",
    "SimulatedProvider": ".providers.simulated",
    "Store": ".stores",
    "Task": ".routing",
    "Thread": ".records",
    "Usage": ".usage",
    "UserError": ".exceptions",
    "detect_domain": ".domains",
    "open_store": ".stores",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


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
