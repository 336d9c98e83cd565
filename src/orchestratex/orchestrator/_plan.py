"""Planning a run: `prepare`'s checks of the request, then the orchestration to store, in its session and thread
(either made when not given), with its settings resolved from the request's, the session's and the orchestrator's.
Nothing is stored but a session made here, once every check has passed: `prepare` stores the rest, `run` has the run
store it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError

from .._user_ids import new_session_user_id
from ..domains import check_domain
from ..exceptions import Conflict, UserError
from ..records import Orchestration, OrchestrationSettings, Session, Thread
from ._chat import ChatInput, check_texts, no_blank_context, said, thread_history, to_messages, with_history
from ._checks import (
    check_numbers,
    check_owner,
    check_prompt,
    check_runnable,
    check_where,
    first_error,
    inactive_session,
    preferred_names,
    validated_settings,
)
from ._durable import with_store_retries
from ._ledger import NO_TOKENS
from ._lifecycle import ensure_ready
from ._lookup import read_session, read_thread
from ._sessions import new_session, thread_orchestrations

if TYPE_CHECKING:
    from .orchestrator import Orchestrator

__all__ = ["plan", "start_settings", "store_new"]

T = TypeVar("T")


async def plan(
    orchestrator: Orchestrator,
    prompt: ChatInput,
    *,
    session: Session | str | None = None,
    thread: Thread | str | None = None,
    user_id: str | None = None,
    domain: str | None = None,
    context: str | None = None,
    max_iterations: int | None = None,
    evaluation_threshold: float | None = None,
    preferred_models: Sequence[str] | None = None,
    cost_limit: float | None = None,
    max_output_tokens: int | None = None,
    patience: int | None = None,
    stop_sequences: Sequence[str] | None = None,
) -> tuple[Orchestration, Thread | None, Session]:
    """`prepare`'s checks: the orchestration to store, its new thread (None on an existing thread; not yet
    stored) and its session (created when not given)."""
    o = orchestrator
    domain = check_domain(domain)
    await ensure_ready(o)
    messages = to_messages(prompt)
    check_texts(domain=domain, context=context, stop_sequences=stop_sequences)
    context = no_blank_context(context)
    check_numbers(
        max_iterations=max_iterations,
        evaluation_threshold=evaluation_threshold,
        cost_limit=cost_limit,
        max_output_tokens=max_output_tokens,
        patience=patience,
    )
    check_where(session, thread, user_id)
    if preferred_models is not None:
        preferred_models = preferred_names(o.catalog, preferred_models)
    if isinstance(thread, str):
        thread = await read_thread(o.store, thread)
    if isinstance(session, str):
        session = await read_session(o.store, session)
    if session is None and thread is not None:
        session = await o.store.get_session(thread.session_id)
    made: Session | None = None
    if session is None:  # stored once the run is found runnable: a refused run left an empty session behind
        owner = "local" if user_id is None else await new_session_user_id(o.store, user_id)
        session = made = new_session(o, owner, max_iterations, None, cost_limit, None, None)
        cost_limit = None  # the session carries it
    check_owner(session, user_id)
    if session.status != "active":
        raise Conflict(inactive_session(session))
    settings = start_settings(
        o,
        session,
        max_iterations=max_iterations,
        evaluation_threshold=evaluation_threshold,
        preferred_models=preferred_models,
        cost_limit=cost_limit,
        max_output_tokens=max_output_tokens,
        patience=patience,
        stop_sequences=stop_sequences,
    )
    unjudged = settings.max_iterations == 1 and (session.settings.judging or o.judging) == "when_needed"
    check_runnable(o, settings.preferred_models, session.settings.judges, unjudged=unjudged)
    new_thread = None
    try:
        if thread is None:
            thread = new_thread = Thread(
                session_id=session.id,
                user_id=session.user_id,
                original_prompt=check_prompt(messages[-1].content),
                domain=domain,
                context=context,
            )
        elif thread.session_id != session.id:
            raise UserError(f"thread {thread.id} belongs to session {thread.session_id}, not {session.id}")
        elif not any(m.role == "assistant" for m in messages):  # a new turn of the thread's conversation
            messages = with_history(thread_history(await thread_orchestrations(o.store, thread.id)), messages)
        messages = said(messages)
        doc = Orchestration(
            thread_id=thread.id,
            session_id=session.id,
            user_id=session.user_id,
            prompt=messages[-1].content,
            messages=messages if len(messages) > 1 else [],
            domain=domain or thread.domain,
            context=context if context is not None else thread.context,
            settings=settings,
            usage=NO_TOKENS,
        )
    except ValidationError as exc:  # a `domain` or `context` of the wrong type, say
        raise UserError(first_error(exc)) from None
    if made is not None:
        session = await store_new(
            o, partial(o.store.create_session, made), partial(o.store.get_session, made.id), f"session {made.id}"
        )
    return doc, new_thread, session


def start_settings(
    o: Orchestrator,
    session: Session,
    *,
    max_iterations: int | None = None,
    evaluation_threshold: float | None = None,
    preferred_models: Sequence[str] | None = None,
    cost_limit: float | None = None,
    max_output_tokens: int | None = None,
    patience: int | None = None,
    stop_sequences: Sequence[str] | None = None,
) -> OrchestrationSettings:
    """The settings of a run started in `session` with these: each one not given is the session's, else the
    orchestrator's default. `preferred_models` are the catalog's names (`preferred_names`). The one place a start's
    settings are resolved: the server's `Idempotency-Key` compares a start sent again by them (`check_same`)."""
    return validated_settings(
        max_iterations=session.max_iterations if max_iterations is None else max_iterations,
        evaluation_threshold=(
            evaluation_threshold if evaluation_threshold is not None else o.defaults.evaluation_threshold
        ),
        preferred_models=preferred_models or session.settings.preferred_models,
        cost_limit=cost_limit,
        max_output_tokens=o.defaults.max_output_tokens if max_output_tokens is None else max_output_tokens,
        patience=patience,
        stop_sequences=[stop_sequences] if isinstance(stop_sequences, str) else stop_sequences,
    )


async def store_new(
    o: Orchestrator, create: Callable[[], Awaitable[T]], read: Callable[[], Awaitable[T]], what: str
) -> T:
    """`create()` a record with a new id, with the run's other writes' retries (`store_retry`): a SQLite file whose
    write lock another process held past the busy timeout made `run()` and `prepare()` raise `StoreUnavailable` at
    once. On a retry, `Conflict` is the earlier attempt's insert, its reply lost (the id is new: no one else's):
    `read()` returns it."""
    retried = False

    async def store() -> T:
        nonlocal retried
        try:
            return await create()
        except Conflict:
            if not retried:
                raise
            return await read()
        finally:
            retried = True

    return await with_store_retries(store, o.store_retry, f"storing {what}")
