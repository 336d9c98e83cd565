"""Sessions API: create, read, list a user's, change status."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ..exceptions import NotFound
from ._access import load_session, load_to_stop
from ._app import state_of
from ._auth import named_user, principal_of
from ._bodies import CheckedJsonRoute
from ._errors import ERROR_RESPONSES, quoted
from ._schemas import (
    BODY_ONLY,
    ONE_RECORD,
    Limit,
    Offset,
    Session,
    SessionCreate,
    SessionStatusUpdate,
    check_page,
    check_query,
    document,
    stream_documents,
)
from ._users import PathUserId

__all__ = ["router"]

router = APIRouter(prefix="/api/sessions", tags=["sessions"], responses=ERROR_RESPONSES, route_class=CheckedJsonRoute)

_FINAL = ("completed", "cancelled")


@router.post("/", status_code=201, response_model=Session, summary="Create Session")
async def create_session(body: SessionCreate, request: Request) -> Response:
    """A new active session. `user_id` defaults to the key's user; a non-admin key naming another
    user answers 404, as for anything of another user."""
    check_query(request, (), BODY_ONLY)
    user = principal_of(request)
    user_id = user.user_id if body.user_id is None else body.user_id
    if not user.may_see(user_id):
        raise NotFound(f"no user {quoted(user_id)}")
    state = state_of(request)
    session = await state.orchestrator.create_session(
        await named_user(state.store, user, user_id),
        max_iterations=body.max_iterations,
        preferred_models=body.settings.preferred_models,
        cost_limit=body.settings.cost_limit,
        judges=body.settings.judges,
        judging=body.settings.judging,
    )
    return document(session, 201)


@router.get("/user/{user_id}", response_model=list[Session], summary="List User Sessions")
async def list_user_sessions(user_id: PathUserId, request: Request, limit: Limit = 100, offset: Offset = 0) -> Response:
    """The user's sessions, oldest first (a non-admin key may only ask for its own user)."""
    check_page(request)
    user = principal_of(request)
    if not user.may_see(user_id):
        raise NotFound(f"no user {quoted(user_id)}")
    store = state_of(request).store
    user_id = await named_user(store, user, user_id)
    return await stream_documents(lambda n, at: store.list_sessions(user_id, limit=n, offset=at), limit, offset)


@router.get("/user", include_in_schema=False)
async def no_user_named() -> Response:
    """`GET /api/sessions/user/` (a user id left empty) was read as the session `user`: "no session 'user' (ids are 24
    hexadecimal digits)" sent the client looking for a session id it never meant to give."""
    raise NotFound("no user given: the sessions of a user are listed at /api/sessions/user/{user_id}")


@router.get("/{session_id}", response_model=Session, summary="Get Session")
async def get_session(session_id: str, request: Request) -> Response:
    check_query(request, (), ONE_RECORD)
    user = principal_of(request)
    state = state_of(request)
    session = await load_session(state, user, session_id)
    return document(session, headers=await state.rate.hit(session.id))


@router.patch("//status", include_in_schema=False)
async def no_session_to_update() -> Response:
    """`PATCH /api/sessions//status` (a session id left empty) answered a bare "Not Found"."""
    raise NotFound("no session given: the status of a session is set at /api/sessions/{session_id}/status")


@router.patch("/{session_id}/status", response_model=Session, summary="Update Session Status")
async def update_session_status(session_id: str, body: SessionStatusUpdate, request: Request) -> Response:
    """`active` ⇄ `paused`, or to `completed` / `cancelled` (final; sets `session_end`). 409 otherwise.

    Ending a session (`completed` or `cancelled`) stops its running orchestrations: each ends `cancelled`. Ending
    one is never refused for the request rate (its runs would go on paying)."""
    check_query(request, (), BODY_ONLY)
    user = principal_of(request)
    state = state_of(request)
    before, deferred = await load_to_stop(state, user, request.scope, lambda: load_session(state, user, session_id))
    stops = body.status in _FINAL and before.status not in _FINAL
    headers = await state.rate.hit_stop(session_id, user.user_id, stops=stops, user_deferred=deferred)
    session = await state.store.set_session_status(session_id, body.status)
    if session.status in _FINAL:
        # its runs stop: those of this process now, those of other processes sharing the store within about
        # a second (each asks the store whether to go on, `Store.cancel_requested`)
        if await state.runner.stop_session(session_id):
            # as they left it: what their last steps spent counted, their reservations released
            session = await state.store.get_session(session_id)
    return document(session, headers=headers)
