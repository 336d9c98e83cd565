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

from ..exceptions import ContentFiltered, ContextLengthExceeded, EmptyAnswer, ProviderError

__all__ = ["judge_failure_recorded", "keeps_judging", "keeps_judging_recorded"]

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


def judge_failure_recorded(error: str) -> tuple[bool, bool]:
    """What a judge's failed call says of its model, as a verdict recorded it (`JudgeVerdict.error`: `<exception>:
    <detail>`), for a resumed run to act on it as the live run did (`Spending._count_failed`): (no judge any more, no
    routing candidate either). A verdict that could not be read, one the budget or the evaluator refused, and a refusal
    on content grounds say nothing of the model: (False, False)."""
    kind, _, _ = error.partition(": ")
    if kind in _KEEP_JUDGING_NAMES or kind not in _provider_errors(ProviderError):
        return False, False
    return True, kind != ContextLengthExceeded.__name__


def _provider_errors(cls: type[ProviderError]) -> set[str]:
    """The names of `cls` and its subclasses (an adapter's own among them)."""
    return {cls.__name__}.union(*(_provider_errors(sub) for sub in cls.__subclasses__()))
