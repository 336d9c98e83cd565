"""A router of your own whose methods are plain functions is refused where it is given, not by every run."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from orchestratex import Orchestrator, lab
from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import UserError
from orchestratex.records import RoutingDecision
from orchestratex.routing import Router, RoutingFeedback, Task


class PlainSelect(Router):
    name = "plain"

    def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:  # type: ignore[override]
        return RoutingDecision(model_name=candidates[0].name, reasoning="first", scores={}, domain=task.domain)


class PlainObserve(Router):
    name = "plain-observe"

    async def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        return RoutingDecision(model_name=candidates[0].name, reasoning="first", scores={}, domain=task.domain)

    def observe(self, feedback: RoutingFeedback) -> None:  # type: ignore[override]
        return None


def _table() -> lab.OutcomeTable:
    return lab.OutcomeTable(
        name="t", models=("a", "b"), prompts=("question 1", "question 2"), quality=np.ones((2, 2)),
        cost=np.full((2, 2), 0.001),
    )  # fmt: skip


@pytest.mark.parametrize(("router", "method"), [(PlainSelect(), "select"), (PlainObserve(), "observe")])
async def test_a_plain_function_for_a_router_method_is_refused_where_the_router_is_given(
    router: Router, method: str
) -> None:
    """Before: `def select(...)` (no `async`) was taken, and every run then failed — logged "failed unexpectedly" with
    a traceback, stored as failed — with "object RoutingDecision can't be used in 'await' expression"; `lab.replay`
    and `lab.replay_loop` failed with the same TypeError (a `def observe` with "object NoneType can't be used …")."""
    message = rf"^{type(router).__name__}\.{method} must be a coroutine function, .*: write `async def {method}\(self, "
    with pytest.raises(UserError, match=message):
        Orchestrator(router=router)
    table = _table()
    with pytest.raises(UserError, match=message):
        await lab.replay(router, table, lab.profiles_for(table), progress=False)
    with pytest.raises(UserError, match=message):
        await lab.replay_loop(table, router=router, progress=False)
