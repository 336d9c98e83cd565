"""Routing: which model answers a task.

`Router` is the contract (`select(task, candidates) -> RoutingDecision`); `BayesianRouter` is the default, learning
from its own evaluation scores. Fitted routers trained on outcome data (`orchestratex.lab`) live in
`orchestratex.routing.fitted`.
"""

from __future__ import annotations

from ..domains import DOMAINS, detect_domain
from ..records import RoutingDecision
from ._base import Attempt, LearningRouter, Router, RoutingFeedback, Task
from .bandit import BayesianRouter

__all__ = [
    "DOMAINS",
    "Attempt",
    "BayesianRouter",
    "LearningRouter",
    "Router",
    "RoutingDecision",
    "RoutingFeedback",
    "Task",
    "detect_domain",
]
