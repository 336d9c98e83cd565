"""What a model's failed answer says about the model: whether it may still judge the run's other answers.

A failed answer always takes its model off the routing candidates for the rest of the run. Whether it also
leaves the judge panel depends on what failed: a failure that shows the model unusable in this run (its key is
refused, it is not found, its server or its rate limit kept failing after the retries, it cannot be reached or
answer in time, its circuit is open, its usage cannot be priced or cost more than reserved, the prompt is too
long for it — a judge prompt holds the prompt and an answer) drops it; a failure of that one answer — an empty or
truncated-to-nothing answer, or content the provider filtered — leaves it a judge of the other models' answers
(never of its own). A model whose call as a judge failed so is no routing candidate either, its next call failing as
that one did — unless what failed may be the judge request's own: a judge prompt too long for it, or a request the
provider refused otherwise (a 400 or 422: a judge setting the server does not take). A judge whose verdict could not
be read (no score, a score out of range: not cut short by its output cap) judges no more in the run either, as its
next verdicts would be read no better; it may still answer."""

from __future__ import annotations

from .. import exceptions
from ..exceptions import ContentFiltered, ContextLengthExceeded, EmptyAnswer, ProviderError, ProviderHTTPError

__all__ = [
    "SET_ASIDE",
    "answers_after_judging",
    "failure_kind",
    "judge_failure_recorded",
    "judges_failure_kind",
    "keeps_judging",
    "keeps_judging_recorded",
    "recorded_kind",
]

SET_ASIDE = " (set aside as a judge for the rest of the run)"
"""The end of the error of a verdict that could not be read, whose judge the run asked no more (`_JudgeCall`)."""

_EVALUATION_FAILED = exceptions.EvaluationError.__name__

_KEEP_JUDGING = (ContentFiltered, EmptyAnswer)
_KEEP_JUDGING_NAMES = frozenset(cls.__name__ for cls in _KEEP_JUDGING)


def keeps_judging(exc: BaseException) -> bool:
    """Whether a model whose answer failed with `exc` may still judge other models' answers in the run."""
    return isinstance(exc, _KEEP_JUDGING)


def answers_after_judging(exc: ProviderError) -> bool:
    """Whether a model whose call as a judge failed with `exc` (and judges no more) may still answer in the run: when
    the failure may be the judge request's own (a judge prompt too long for it; a plain HTTP error other than a 404,
    such as a 400 for a judge setting its server does not take)."""
    if isinstance(exc, ContextLengthExceeded):
        return True
    return type(exc) is ProviderHTTPError and exc.status_code != 404


def keeps_judging_recorded(error: str) -> bool:
    """`keeps_judging` for a failure as an iteration recorded it (`<model>: <kind>: <detail>`), for a resumed run."""
    _, _, rest = error.partition(": ")
    kind, _, _ = rest.partition(": ")
    return kind in _KEEP_JUDGING_NAMES


def judge_failure_recorded(error: str) -> tuple[bool, bool]:
    """What a judge's failed call says of its model, as a verdict recorded it (`JudgeVerdict.error`: `<exception>:
    <detail>`), for a resumed run to act on it as the live run did (`Spending._count_failed`): (no judge any more, no
    routing candidate either). A verdict that could not be read was set aside as a judge (`SET_ASIDE`): (True, False);
    one the budget or the evaluator refused, and a refusal on content grounds say nothing of the model: (False, False).
    """
    if error.endswith(SET_ASIDE):
        return True, False
    kind, _, _ = error.partition(": ")
    if kind in _KEEP_JUDGING_NAMES or kind not in _provider_errors(ProviderError):
        return False, False
    return True, kind not in (ContextLengthExceeded.__name__, ProviderHTTPError.__name__)  # (its status is not kept)


def _provider_errors(cls: type[ProviderError]) -> set[str]:
    """The names of `cls` and its subclasses (an adapter's own among them)."""
    return {cls.__name__}.union(*(_provider_errors(sub) for sub in cls.__subclasses__()))


def failure_kind(exc: BaseException) -> str:
    """The kind of a failure as an iteration records it (`Iteration.failures`): the class of OrchestrateX's exception
    tree `exc` is (an adapter's own subclass, as `NoStreamedUsage`, counts as its base, `MalformedResponse`), else its
    class's name."""
    return _kind_of(type(exc))


def _kind_of(cls: type[BaseException]) -> str:
    return next((c.__name__ for c in cls.__mro__ if c.__module__ == exceptions.__name__), cls.__name__)


def judges_failure_kind(kinds: list[str | None]) -> str:
    """The kind of a failed evaluation whose judges' calls ended with `kinds` (each judge's `failure_kind`, None for
    one that answered without a verdict): the one kind they all failed with, else `EvaluationError`."""
    first = kinds[0] if kinds else None
    return first if first is not None and all(k == first for k in kinds) else _EVALUATION_FAILED


def recorded_kind(error: str | None) -> str | None:
    """`failure_kind` of a failed call as its `CallRecord.error` names it (its exception's class), None for a call that
    did not fail."""
    if error is None:
        return None
    cls = _classes().get(error)
    return _kind_of(cls) if cls is not None else error


def _classes() -> dict[str, type[BaseException]]:
    """OrchestrateX's exceptions and their subclasses (an adapter's own among them), by class name."""
    found: dict[str, type[BaseException]] = {}
    todo: list[type[BaseException]] = [exceptions.OrchestrateXError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.__name__, cls)
        todo.extend(cls.__subclasses__())
    return found
