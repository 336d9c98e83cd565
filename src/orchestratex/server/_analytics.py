"""Analytics API: aggregates of a session's or a user's orchestrations, computed by the store."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ..exceptions import NotFound
from ._access import load_session
from ._app import state_of
from ._auth import named_user, principal_of
from ._errors import ERROR_RESPONSES, quoted
from ._schemas import Analytics, check_query, document
from ._users import PathUserId

__all__ = ["router"]

router = APIRouter(prefix="/api/analytics", tags=["analytics"], responses=ERROR_RESPONSES)

_UNFILTERED = "not a query parameter of the analytics, which take none: they cover every orchestration of the {}"
"""The 422 of a filter the analytics do not take (`?from=2026-11-01`, `?domain=coding`): the whole history was
answered as if it were the part asked for."""


@router.get("/session/{session_id}", response_model=Analytics, summary="Get Session Analytics")
async def session_analytics(session_id: str, request: Request) -> Response:
    """Orchestrations by status, cost, tokens, iterations, scores, latency percentiles, per model and per domain."""
    check_query(request, (), _UNFILTERED.format("session"))
    user = principal_of(request)
    state = state_of(request)
    await load_session(state, user, session_id)
    headers = await state.rate.hit(session_id)
    return document(await state.store.session_analytics(session_id), headers=headers)


@router.get("/user/{user_id}", response_model=Analytics, summary="Get User Analytics")
async def user_analytics(user_id: PathUserId, request: Request) -> Response:
    """The same aggregates over all of a user's sessions (a non-admin key may only ask for its own user)."""
    check_query(request, (), _UNFILTERED.format("user"))
    user = principal_of(request)
    if not user.may_see(user_id):
        raise NotFound(f"no user {quoted(user_id)}")
    store = state_of(request).store
    return document(await store.user_analytics(await named_user(store, user, user_id)))


@router.get("/session", include_in_schema=False)
async def no_session_named() -> Response:
    """`GET /api/analytics/session/` (a session id left empty) answered a bare "Not Found", unlike the list routes."""
    raise NotFound("no session given: the analytics of a session are at /api/analytics/session/{session_id}")


@router.get("/user", include_in_schema=False)
async def no_user_named() -> Response:
    """`GET /api/analytics/user/` (a user id left empty) answered a bare "Not Found", unlike the list routes."""
    raise NotFound("no user given: the analytics of a user are at /api/analytics/user/{user_id}")
