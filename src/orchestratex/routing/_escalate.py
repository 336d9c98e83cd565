"""The loop of a `FittedRouter`: after rejections, where a failure is least likely to repeat."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._dollars import estimate
from ..catalog import ModelProfile
from ..records import RoutingDecision
from ._base import Task
from ._cascade import plan
from ._features import load_numpy
from ._joint import logit, sigmoid
from ._memory import best_rejected

if TYPE_CHECKING:
    from .fitted import FittedRouter

__all__ = ["escalate"]


def escalate(
    router: FittedRouter, task: Task, pairs: list[tuple[ModelProfile, int]], q_all: Any, c: Any, failed: frozenset[int]
) -> RoutingDecision:
    """`FittedRouter`'s choice after a rejection, or with attempts to plan: the first step of the best plan of the
    remaining attempts (`_cascade.plan`), or with `target_quality` the single-shot rule on the updated beliefs."""
    np = load_numpy()
    e = router.judge_error
    d = router.domain_row(task.domain)
    fresh = [(p, j) for p, j in pairs if j not in failed or router.retry_success(router.models[j], task.domain) > 0]
    if fresh:  # a rejected model is asked again only once retries of it have been seen to succeed
        keep = [i for i, (_, j) in enumerate(pairs) if j not in failed or (pairs[i] in fresh)]
    else:  # every candidate was rejected: the best of them is asked again
        keep = best_rejected(task, [p.name for p, _ in pairs])
    pairs, c = [pairs[i] for i in keep], c[keep]
    cols = [j for _, j in pairs]
    shift = logit(q_all) - logit(router._mean_q[d])  # what the prompt's own features add to the domain's mean
    retry = np.asarray([router.retry_success(router.models[j], task.domain) for j in range(len(router.models))])
    costs = [float(x) + router.judging_cost for x in c]

    def beliefs(state: frozenset[int]) -> tuple[Any, Any]:
        gone = failed | {cols[i] for i in state}
        q = sigmoid(logit(router.conditional_quality(task.domain, gone, task.threshold)) + shift)
        q = np.where([j in gone for j in range(len(router.models))], retry, q)[cols]
        return (1 - e) * q + e * (1 - q), (1 - e) * q

    if router.target_quality is not None:
        _, right = beliefs(frozenset())
        pick = router.choose(right / (1 - e), np.asarray(costs))
        how = f"cheapest expected to reach {router.target_quality:.2f} after {len(failed)} rejection(s)"
        return router._decision(task, pairs, pick, how, right[pick] / (1 - e), c[pick], right)
    best = plan(
        beliefs,
        costs,
        steps=task.remaining_iterations,
        cost_weight=router.cost_weight,
        budget=task.remaining_budget,
        horizon=router.horizon,
    )
    pick = best.order[0]
    names = " → ".join(pairs[i][0].name for i in best.order)
    # (the run's names of the rejected models, in the order they failed: the table's were not the run's, "after c")
    after = f" after {', '.join(task.failed_models)} scored below the threshold" if failed else ""
    how = f"plans {names}{after} (P(accepted right answer) {best.success:.2f} at ~${estimate(best.cost)})"
    _, right = beliefs(frozenset())
    return router._decision(task, pairs, pick, how, right[pick] / (1 - e), c[pick], np.asarray(best.values))
