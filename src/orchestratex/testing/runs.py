"""One judged run of a provider's model, and what it cost: for an adapter's tests of what a vendor bills (a prompt-cache
write, a service tier, a regional surcharge passed on as `Generation.reported_cost`), through a real `Orchestrator`.

```python
from orchestratex.testing.runs import judged_run

total, spent, reserved = await judged_run(provider, model, "What is the capital of France?", streamed=True)
assert (total, spent, reserved) == (0.00465, 0.00465, 0.0)
```
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from ..catalog import ModelCatalog, ModelProfile
from ..orchestrator import AnswerDelta, Orchestrator
from ..providers import FunctionProvider, GenerationRequest, Provider
from ..routing import BayesianRouter
from ..stores import MemoryStore, Store

__all__ = ["FREE_JUDGE", "RunCosts", "judged_orchestrator", "judged_run"]

FREE_JUDGE = ModelProfile(name="function:judge", cost_per_1k_tokens=0, quality=5)
"""The judge of `judged_orchestrator`'s runs, priced at $0: a run's costs are its answers' alone."""

GOOD = '{"score": 9, "feedback": "Correct."}'
"""The verdict that ends a run after its first answer."""

Verdict = str | Callable[[GenerationRequest], str | Awaitable[str]]
"""A judge's answer to every answer, or a function of the judge's request answering it."""


class RunCosts(NamedTuple):
    """What a run cost, and what its session holds after it."""

    total: float
    """The run's `total_cost`."""
    spent: float
    """Its session's `total_cost`."""
    reserved: float
    """What its session still holds reserved (0.0 once every call is settled)."""


def judged_orchestrator(
    provider: Provider, *models: ModelProfile, verdict: Verdict = GOOD, store: Store | None = None, **settings: Any
) -> Orchestrator:
    """An `Orchestrator` routing to `models` (served by `provider`) without exploring, in the order of their quality,
    each answer judged by `FREE_JUDGE` with `verdict`; `settings` are the orchestrator's own (`max_output_tokens=`)."""
    judge = FunctionProvider((lambda request: verdict) if isinstance(verdict, str) else verdict, name="function")
    return Orchestrator(
        providers=[provider, judge],
        catalog=ModelCatalog([*models, FREE_JUDGE]),
        router=BayesianRouter(explore=False),
        judges=[FREE_JUDGE.name],
        store=MemoryStore() if store is None else store,
        **settings,
    )


async def judged_run(
    provider: Provider, model: ModelProfile, prompt: str, *, streamed: bool = False, cost_limit: float = 1.0
) -> RunCosts:
    """One run of `prompt` on `model` (`judged_orchestrator`, one iteration), through `run_stream` when `streamed`:
    what it cost. Fails unless it completed, its answer streamed in pieces when `streamed`, within what it reserved
    (no overage)."""
    store = MemoryStore()
    async with judged_orchestrator(provider, model, store=store) as orchestrator:
        if streamed:
            async with orchestrator.run_stream(prompt, max_iterations=1, cost_limit=cost_limit) as stream:
                pieces = [item async for item in stream if isinstance(item, AnswerDelta)]
            assert pieces and stream.result is not None, "the answer did not stream"
            result = stream.result
        else:
            result = await orchestrator.run(prompt, max_iterations=1, cost_limit=cost_limit)
    assert result.status == "completed", result.orchestration.iterations
    assert result.overage_cost == 0.0, f"the run cost {result.overage_cost} more than it reserved"
    session = await store.get_session(result.orchestration.session_id)
    return RunCosts(result.total_cost, session.total_cost, session.reserved_cost)
