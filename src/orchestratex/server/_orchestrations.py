"""Orchestration API: start one in the background (202), read its status."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from functools import partial

from fastapi import APIRouter, Request, Response

from .._dollars import dollars
from ..catalog import ModelCatalog
from ..exceptions import Conflict, NotFound, OrchestrateXError
from ..orchestrator import Orchestrator
from ..orchestrator._judges import JudgePlanner
from ..orchestrator._run_state import RunState
from ..providers._base import least_output_tokens
from ..records import TERMINAL_ORCHESTRATION_STATUSES, Session, Thread
from ..usage import add_costs
from ._access import load_orchestration, load_session, load_thread, load_to_stop
from ._app import ServerState, state_of
from ._auth import principal_of
from ._bodies import CheckedJsonRoute
from ._errors import ERROR_RESPONSES
from ._idempotency import IDEMPOTENCY_PARAMETER, REPLAYED, check_same, idempotency_key, keyed_id, started_before
from ._quota import stored_bytes
from ._schemas import BODY_ONLY, ONE_RECORD, Orchestration, OrchestrationStart, check_query, document

__all__ = ["router"]

router = APIRouter(
    prefix="/api/orchestration", tags=["orchestration"], responses=ERROR_RESPONSES, route_class=CheckedJsonRoute
)


@router.post(
    "/start",
    status_code=202,
    response_model=Orchestration,
    summary="Start Orchestration",
    openapi_extra={"parameters": [IDEMPOTENCY_PARAMETER]},
)
async def start_orchestration(body: OrchestrationStart, request: Request) -> Response:
    """Store a `pending` orchestration of the thread's prompt (or `prompt`) and run it in the background.

    Unset settings take the session's (`max_iterations`, `preferred_models`); the session's
    `cost_limit` bounds every call. 409 when the session is not active, or has spent its whole `cost_limit` (and no
    model of the catalog is free), and when its own `settings.cost_limit` is 0 (the same); 429 when the user already
    runs the most orchestrations allowed at once; 413 when what it stores (its prompt, the thread's context, the
    thread's earlier turns) would pass the user's storage quota. Follow it on `/ws/{session_id}` or
    `GET /api/orchestration/status/{id}`. With an `Idempotency-Key` its user already started an orchestration with,
    202 with that one as it is now (`Idempotent-Replayed: true`), nothing started; 409 when this body differs.
    """
    check_query(request, (), BODY_ONLY)
    key = idempotency_key(request)
    user = principal_of(request)
    state = state_of(request)
    thread = await load_thread(state, user, body.thread_id)
    headers = await state.rate.hit(thread.session_id)
    session = await load_session(state, user, thread.session_id)
    if key is not None and (earlier := await started_before(state.orchestrator, thread.user_id, key)) is not None:
        return _replayed(state, earlier, body, thread, session, headers)
    s = body.settings
    doc, _, _ = await state.orchestrator._plan(
        body.prompt if body.prompt is not None else thread.original_prompt,
        session=session,
        thread=thread,
        max_iterations=s.max_iterations,
        evaluation_threshold=s.evaluation_threshold,
        preferred_models=s.preferred_models,
        cost_limit=s.cost_limit,
    )
    if (spent := _spent(session, s.cost_limit, state.orchestrator.catalog)) is not None:
        raise Conflict(spent)
    if (short := _too_little(state.orchestrator, session, doc)) is not None:
        raise Conflict(short)
    if key is not None:
        doc.id = keyed_id(thread.user_id, key)
    charged = await state.quota.charge(session.user_id, stored_bytes(doc))
    try:
        admitted = await state.concurrency.acquire(session.user_id)
        try:
            await state.runner.store_to_run(doc)
        finally:
            await state.concurrency.release(admitted)  # stored `pending`, the orchestration now counts itself
    except BaseException as exc:
        await state.quota.refund(session.user_id, charged)
        # the same key sent at once (to this server or another on the store): the first start stored it, this one
        # answers it
        if key is not None and isinstance(exc, Conflict):
            earlier = await started_before(state.orchestrator, thread.user_id, key)
            if earlier is not None:
                return _replayed(state, earlier, body, thread, session, headers)
        raise
    answer = document(doc, 202, headers)  # serialised before the run can change it
    state.runner.launch(doc)
    return answer


def _replayed(
    state: ServerState,
    earlier: Orchestration,
    body: OrchestrationStart,
    thread: Thread,
    session: Session,
    headers: Mapping[str, str],
) -> Response:
    """The answer to a start whose `Idempotency-Key` an earlier start stored `earlier` with: 202 with it as it is now
    (`Idempotent-Replayed: true`), or 409 when this body starts something else."""
    check_same(state.orchestrator, earlier, body, thread, session)
    return document(earlier, 202, {**headers, REPLAYED: "true"})


def _cancel_ended(
    cancelling: dict[str, asyncio.Future[bool]], orchestration_id: str, done: asyncio.Future[bool]
) -> None:
    if cancelling.get(orchestration_id) is done:
        del cancelling[orchestration_id]
    if not done.cancelled():
        done.exception()  # (raised to the request that began it, unless that request was cancelled meanwhile)


async def _already_ended(state: ServerState, orchestration_id: str) -> Conflict:
    return _ended(await state.store.get_orchestration(orchestration_id))


def _ended(doc: Orchestration) -> Conflict:
    return Conflict(f"orchestration {doc.id} has already ended ({doc.status}): there is nothing to cancel")


def _spent(session: Session, cost_limit: float | None, catalog: ModelCatalog) -> str | None:
    """Why no orchestration can run in `session`, whose spending has reached its `cost_limit`, or with the start's own
    `cost_limit` of 0 (the `Conflict` of its start), or None. Such a start was answered 202, then its run failed
    `budget` without a call ("no model's worst-case cost fits the $0.000000 left"). A run may still use a free model:
    with one in the catalog, the run decides. Read from the session the start has read anyway: no store round trip."""
    limit = session.settings.cost_limit
    nothing_left = limit is not None and limit - session.total_cost <= 1e-12
    if not nothing_left and (cost_limit is None or cost_limit > 1e-12):
        return None
    if any(m.input_cost_per_1k == 0 and m.output_cost_per_1k == 0 for m in catalog):
        return None
    if limit is None or limit - session.total_cost > 1e-12:  # (the session has budget left: the start's own is 0)
        return (
            "settings.cost_limit is $0, a budget of nothing for this orchestration (not 'no limit': leave cost_limit"
            " out for the session's budget alone): it could not spend anything; give it a budget, or leave it out"
        )
    if limit <= 1e-12:
        return (
            f"session {session.id} has a cost_limit of $0, a budget of nothing (not 'no limit': a session without one"
            " leaves cost_limit out): no orchestration can spend anything in it; start it in a session with a budget"
        )
    return (
        f"session {session.id} has spent its whole budget ({dollars(session.total_cost)} of its cost_limit"
        f" {dollars(limit)}): nothing is left for an orchestration; start it in a new session"
    )


def _too_little(orchestrator: Orchestrator, session: Session, doc: Orchestration) -> str | None:
    """Why the budget `doc` may spend (what its session has left of its `cost_limit`, or its own `cost_limit` when
    smaller) pays for no call, or None. Such a start was answered 202, then its run failed `budget` without a call
    ("no model's worst-case cost (with judging) fits the $0.000010 left"). Each model's least call is the run's
    shortest answer worth asking for (`OutputLengths.cap`, the provider's floor) at the model's output price, its
    prompt left out, with the judging the run keeps for it (its own `JudgePlanner`, asked as the run will ask it: no
    store round trip; priced only for a model whose answer fits, or for the refusal's message). A bound below what the
    run needs, so no start the run could serve is refused. Without a limit, nothing is computed; with one, the first
    model whose least call fits ends the look."""
    limit, own = session.settings.cost_limit, doc.settings.cost_limit
    left = None if limit is None else limit - session.total_cost
    if own is not None and (left is None or own < left):
        left = own
    if left is None:
        return None
    priced: list[tuple[str, int, float]] = []
    planner: JudgePlanner | None = None
    try:
        for m in orchestrator._routable(doc.settings.preferred_models):
            limit_tokens = max(min(doc.settings.max_output_tokens, m.max_output_tokens), 1)
            provider = orchestrator.provider_for(m)
            need = max(
                orchestrator.output_lengths.cap(m, "generate", limit_tokens)[1], least_output_tokens(provider, m)
            )
            cost = m.worst_case_cost(0, need)
            if cost <= left + 1e-12:
                if planner is None:
                    planner = _planner(orchestrator, session, doc)
                reserve = planner.reserve_for(m.name, need) if planner.needed(1) else 0.0
                if reserve is None or add_costs(cost, reserve) <= left + 1e-12:  # (None: no judge can read its
                    return None  # answer; the run says so, or routes elsewhere)
            priced.append((m.name, need, cost))
        least = _least_judged(planner or _planner(orchestrator, session, doc), priced) if priced else None
    except OrchestrateXError:  # (an unpriced model, a provider's floor that is no number: the run says so)
        return None
    if least is None:  # (no model to route to, or none whose answer a judge could read: the run says why)
        return None
    cost, name, need, judged = least
    counted = " and its judging, its prompt not counted" if judged else ", its prompt and judging not counted"
    shown = (
        f"less than any model's shortest answer worth asking for costs ({dollars(math.ceil(cost * 1e6) / 1e6)},"
        f" {name}'s {need} tokens{counted})"
    )
    if left == own:
        return (
            f"settings.cost_limit is {dollars(own)}: {shown}, so no call of this orchestration would fit it; give it a"
            " larger budget, or leave cost_limit out"
        )
    return (
        f"session {session.id} has {dollars(max(left, 0.0))} left of its cost_limit {dollars(limit or 0.0)}: {shown},"
        " so no call of an orchestration would fit it; start it in a new session"
    )


def _least_judged(planner: JudgePlanner, priced: list[tuple[str, int, float]]) -> tuple[float, str, int, bool] | None:
    """(cost, model, answer tokens, judging counted) of the least call of `priced` (model, answer tokens, answer cost),
    its judging counted: what a refusal names (a user raising the limit to an answer's cost alone found the next
    refusal). None when no judge can read any of their answers."""
    judged = planner.needed(1)
    least: tuple[float, str, int, bool] | None = None
    for name, need, cost in priced:
        reserve = planner.reserve_for(name, need) if judged else 0.0
        if reserve is None:  # (its answer could not be judged: no call of it is made)
            continue
        total = add_costs(cost, reserve)
        if least is None or total < least[0]:
            least = (total, name, need, reserve > 0)
    return least


def _planner(orchestrator: Orchestrator, session: Session, doc: Orchestration) -> JudgePlanner:
    """The judge planner of `doc`'s run as it will begin (its session's judges and judging, the orchestrator's
    evaluator and circuit), to price the judging of its first answer as the run will."""
    run = RunState(orchestrator, doc, (), session=session)  # (nothing of `doc` changed; its prices shared with its run)
    run.judges = session.settings.judges or orchestrator.judges
    run.judging = session.settings.judging or orchestrator.judging
    run.planner.decision()
    return run.planner


@router.get("/status/{orchestration_id}", response_model=Orchestration, summary="Get Orchestration Status")
async def get_orchestration_status(orchestration_id: str, request: Request) -> Response:
    """The stored orchestration: status, every iteration so far (model, response, tokens, cost,
    evaluation), and once ended the final response, score, model, cost and stop reason."""
    check_query(request, (), ONE_RECORD)
    user = principal_of(request)
    state = state_of(request)
    doc = await load_orchestration(state, user, orchestration_id)
    return document(doc, headers=await state.rate.hit(doc.session_id))


@router.get("/status", include_in_schema=False)
async def no_orchestration_named() -> Response:
    """`GET /api/orchestration/status/` (an orchestration id left empty) answered a bare "Not Found"."""
    raise NotFound(
        "no orchestration given: the status of an orchestration is at /api/orchestration/status/{orchestration_id}"
    )


@router.post("//cancel", include_in_schema=False)
async def no_orchestration_to_cancel() -> Response:
    """`POST /api/orchestration//cancel` (an orchestration id left empty) answered a bare "Not Found"."""
    raise NotFound(
        "no orchestration given: an orchestration is cancelled at /api/orchestration/{orchestration_id}/cancel"
    )


@router.post(
    "/{orchestration_id}/cancel",
    status_code=202,
    response_model=Orchestration,
    summary="Cancel Orchestration",
    responses={200: {"model": Orchestration, "description": "Cancelled: it was running in this server process"}},
)
async def cancel_orchestration(orchestration_id: str, request: Request) -> Response:
    """Stop a `pending` or `running` orchestration: it ends `cancelled` (`stop_reason` `cancelled`), what it
    spent counted and its reservations released, with `orchestration_failed` as its last event.

    200 with the ended orchestration when this server process was running it; 202 with it as it is when
    another process (sharing the store) runs it: that process stops it within about a second (one that died: the
    first resume pass once its lease has expired). 409 when
    it has already ended. Never refused for the request rate while the run goes on (it would go on paying).
    """
    check_query(request, (), ONE_RECORD)
    user = principal_of(request)
    state = state_of(request)
    driven_here = state.runner.drives(orchestration_id)  # (before any await: it may end while this request waits)
    doc, deferred = await load_to_stop(
        state, user, request.scope, lambda: load_orchestration(state, user, orchestration_id)
    )
    ended = doc.status in TERMINAL_ORCHESTRATION_STATUSES
    headers = await state.rate.hit_stop(doc.session_id, user.user_id, stops=not ended, user_deferred=deferred)
    if ended or not await state.store.request_cancel(doc.id):
        raise await _already_ended(state, doc.id)
    cancelling = state.runner.cancelling
    underway = cancelling.get(doc.id)
    if underway is not None:  # another request of this process is ending it: this one ends nothing
        await asyncio.wait((underway,))
        if not underway.cancelled() and underway.exception() is None and underway.result():
            raise await _already_ended(state, doc.id)
    underway = cancelling[doc.id] = asyncio.ensure_future(state.orchestrator.cancel(doc.id))
    underway.add_done_callback(partial(_cancel_ended, cancelling, doc.id))
    if await asyncio.shield(underway):
        return document(await state.store.get_orchestration(doc.id), 200, headers)
    if driven_here:  # it ended here since it was read (its last step was being committed): as it is now
        now = await state.store.get_orchestration(doc.id)
        if now.status == "cancelled":  # (stopped meanwhile: its session ended)
            return document(now, 200, headers)
        if now.status in TERMINAL_ORCHESTRATION_STATUSES:
            raise _ended(now)
    state.runner.launch(doc.id)  # nobody may be running it (its process died): end it here
    return document(doc, 202, headers)
