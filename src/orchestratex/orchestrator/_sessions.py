"""Sessions and threads: the records `create_session` and `create_thread` store, checked from their arguments, and
a thread's orchestrations (its conversation so far)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from .._user_ids import user_id_problem
from ..domains import check_domain
from ..evaluation._base import checked_panel_size
from ..exceptions import Conflict, UserError
from ..records import Orchestration, Session, SessionSettings, Thread
from ..stores import Store
from ._chat import check_text, check_texts, no_blank_context
from ._checks import check_numbers, check_prompt, first_error, preferred_names
from ._judges import Judging
from ._models import judge_names

if TYPE_CHECKING:
    from .orchestrator import Orchestrator

__all__ = ["SpentSoFar", "new_session", "new_thread", "thread_orchestrations"]


def new_session(
    orchestrator: Orchestrator,
    user_id: str,
    max_iterations: int | None,
    preferred_models: Sequence[str] | None,
    cost_limit: float | None,
    judges: Sequence[str] | None,
    judging: Judging | None,
) -> Session:
    """The session `create_session` stores (`UserError` for an argument it refuses)."""
    if not isinstance(user_id, str):
        raise UserError(f"user_id must be a string, not {type(user_id).__name__} {user_id!r}")
    if not user_id.strip():
        raise UserError("user_id must not be empty")
    check_text("user_id", user_id)
    problem = user_id_problem(user_id)  # (the server's rule: its API could never name such a user's sessions)
    if problem is not None:
        raise UserError(f"user_id {user_id[:80]!r}: {problem}")
    check_numbers(max_iterations=max_iterations, cost_limit=cost_limit)
    catalog = orchestrator.catalog
    preferred = None if preferred_models is None else preferred_names(catalog, preferred_models)
    judge_set = judge_names(catalog, judges)
    iterations = orchestrator.defaults.max_iterations if max_iterations is None else max_iterations
    if not (iterations == 1 and (judging or orchestrator.judging) == "when_needed"):  # (else no run calls a judge)
        _check_judged_by_another(orchestrator, preferred, judge_set or orchestrator.judges)
    try:
        return Session(
            user_id=user_id,
            max_iterations=iterations,
            settings=SessionSettings(
                preferred_models=preferred, cost_limit=cost_limit, judges=judge_set, judging=judging
            ),
        )
    except ValidationError as exc:
        raise UserError(first_error(exc)) from None


def _check_judged_by_another(orchestrator: Orchestrator, preferred: list[str] | None, judges: list[str] | None) -> None:
    """`UserError` for a session whose only judge (its own `judges`, else the orchestrator's) is the only model it
    routes to: it was stored, then every run of it refused, as no model may judge its own answers (unless the
    evaluator calls no judge model). Not made for a session whose runs judge nothing (`judging="when_needed"` and
    `max_iterations=1`: docs/evaluation.md); a run of it given more iterations is refused as any run is."""
    if not preferred or not judges or set(preferred) != set(judges) or len(set(judges)) != 1:
        return
    if checked_panel_size(orchestrator.evaluator, [orchestrator.catalog.get(judges[0])]) > 0:
        raise UserError(
            f"no model can judge the answers of {judges[0]}: a judge must be another model, and the session's only "
            "judge (judges, or the orchestrator's) is the only model it routes to (preferred_models): allow another "
            "judge or another model"
        )


def new_thread(session: Session, prompt: str, domain: str | None, context: str | None) -> Thread:
    """The thread `create_thread` stores in `session` (`Conflict` when the session is not active)."""
    if session.status != "active":
        raise Conflict(f"session {session.id} is {session.status}: threads can only be added to an active session")
    domain = check_domain(domain)
    check_texts(prompt=check_prompt(prompt), domain=domain, context=context)
    context = no_blank_context(context)
    try:  # (`context=5` raised pydantic's ValidationError, where `run(context=5)` says the same as a UserError)
        return Thread(
            session_id=session.id,
            user_id=session.user_id,
            original_prompt=prompt,
            domain=domain,
            context=context,
        )
    except ValidationError as exc:
        raise UserError(first_error(exc)) from None


class SpentSoFar:
    """The least each session with a cost limit has spent, as this orchestrator's own runs learned it from the store
    (its figure at each run's start, plus what the run committed since): a `Session` object given to `run` is a copy
    read before earlier runs spent, and the first routing decision of a run is made before the store is asked (the
    run's start gives its figure, after the decision). A session's `total_cost` only grows, so the larger of the
    object's and this is still at most what the store has (another process may have spent more: the store's
    reservations keep the limit). The most recent `MOST` sessions are kept."""

    MOST = 4096

    __slots__ = ("_least",)

    def __init__(self) -> None:
        self._least: dict[str, float] = {}

    def saw(self, session_id: str, spent: float) -> None:
        """Session `session_id` has spent at least `spent`, as a run's commit just stored it."""
        least = self._least
        if spent <= least.get(session_id, 0.0):
            return
        least.pop(session_id, None)  # (the most recent last: the oldest goes first)
        least[session_id] = spent
        if len(least) > self.MOST:
            least.pop(next(iter(least)), None)

    def of(self, session: Session) -> float:
        """What `session` has spent at least: its own `total_cost`, or more if a run of this orchestrator saw more."""
        return max(session.total_cost, self._least.get(session.id, 0.0))


async def thread_orchestrations(store: Store, thread_id: str) -> list[Orchestration]:
    """Every orchestration of thread `thread_id`, oldest first (read 500 at a time)."""
    found: list[Orchestration] = []
    while True:
        page = await store.list_orchestrations(thread_id=thread_id, limit=500, offset=len(found))
        found.extend(page)
        if len(page) < 500:
            return found
