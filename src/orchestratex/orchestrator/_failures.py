"""What a model's failed answer says about the model: whether it may still judge the run's other answers.

A failed answer always takes its model off the routing candidates for the rest of the run. Whether it also
leaves the judge panel depends on what failed: a failure that shows the model unusable in this run (its key is
refused, it is not found, its server or its rate limit kept failing after the retries, it cannot be reached or
answer in time, its circuit is open, its usage cannot be priced or cost more than reserved, the prompt is too
long for it — a judge prompt holds the prompt and an answer) drops it; a failure of that one answer — an empty or
truncated-to-nothing answer, or content the provider filtered — leaves it a judge of the other models' answers
(never of its own). A model whose call as a judge failed so (not a judge prompt too long for it) is no routing
candidate either: its next call would fail as that one did."""

from __future__ import annotations

from ..exceptions import ContentFiltered, EmptyAnswer

__all__ = ["keeps_judging", "keeps_judging_recorded"]

_KEEP_JUDGING = (ContentFiltered, EmptyAnswer)
_KEEP_JUDGING_NAMES = frozenset(cls.__name__ for cls in _KEEP_JUDGING)


def keeps_judging(exc: BaseException) -> bool:
    """Whether a model whose answer failed with `exc` may still judge other models' answers in the run."""
    return isinstance(exc, _KEEP_JUDGING)


def keeps_judging_recorded(error: str) -> bool:
    """`keeps_judging` for a failure as an iteration recorded it (`<model>: <kind>: <detail>`), for a resumed run."""
    _, _, rest = error.partition(": ")
    kind, _, _ = rest.partition(": ")
    return kind in _KEEP_JUDGING_NAMES
