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


@pytest.mark.parametrize("kind", ["bayesian", "contextual", "fitted"])
@pytest.mark.parametrize(
    ("task", "candidates", "message"),
    [
        ("Explain RAID 5", "profiles", r"^task is a routing Task\(prompt=...\), not str: write Task\(prompt='Explain"),
        (Task(prompt="Q", domain=5), "profiles", r"^Task.domain is text, not int 5$"),  # type: ignore[arg-type]
        (Task(prompt="Q"), ["lab:a"], r"^candidates are ModelProfile objects .*, not str 'lab:a'$"),
        (Task(prompt="Q"), [None], r"^candidates are ModelProfile objects .*, not NoneType None$"),
        (Task(prompt="Q"), "one", r"^candidates is a list of ModelProfile: give \[profile\] for one model$"),
        (Task(prompt="Q"), "lab:a", r"^candidates is a list of ModelProfile .*, not str 'lab:a'$"),
    ],
)
async def test_a_router_asked_with_the_wrong_kind_of_task_or_candidates_says_what_to_give(
    kind: str, task: object, candidates: object, message: str
) -> None:
    """Before: `router.decide("Explain RAID 5", profiles)` (as docs/routing.md calls it, with a prompt for the task)
    or `router.decide(Task(...), ["gpt4", "claude"])` (model names for the candidates) failed deep inside with an
    `AttributeError` ("'str' object has no attribute 'name'"), a `Task(domain=5)` with pydantic's error about a
    `RoutingDecision`."""
    from orchestratex.routing import BayesianRouter
    from orchestratex.routing.contextual import ContextualRouter
    from orchestratex.routing.fitted import FittedRouter

    table = lab.OutcomeTable(
        name="t",
        models=("a", "b"),
        prompts=("p1", "p2", "p3"),
        quality=np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]),
        cost=np.full((3, 2), 0.001),
    )
    profiles = [ModelProfile(name=f"lab:{m}", input_cost_per_1k=0.001, output_cost_per_1k=0.001) for m in "ab"]
    router: Router = {
        "bayesian": BayesianRouter(),
        "contextual": ContextualRouter(),
        "fitted": FittedRouter().fit(table, progress=False),
    }[kind]
    given = profiles if candidates == "profiles" else profiles[0] if candidates == "one" else candidates
    with pytest.raises(UserError, match=message):
        await router.select(task, given)  # type: ignore[arg-type]
    assert (await router.select(Task(prompt="Q"), profiles)).model_name in ("lab:a", "lab:b")
