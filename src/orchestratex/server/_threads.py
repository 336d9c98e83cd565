"""Threads API: create, read, list a session's."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ..exceptions import NotFound
from ._access import load_session, load_thread
from ._app import state_of
from ._auth import principal_of
from ._bodies import CheckedJsonRoute
from ._errors import ERROR_RESPONSES
from ._quota import text_bytes
from ._schemas import (
    BODY_ONLY,
    ONE_RECORD,
    Limit,
    Offset,
    Thread,
    ThreadCreate,
    check_page,
    check_query,
    document,
    stream_documents,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/threads", tags=["threads"], responses=ERROR_RESPONSES, route_class=CheckedJsonRoute)


@router.post("/", status_code=201, response_model=Thread, summary="Create Thread")
async def create_thread(body: ThreadCreate, request: Request) -> Response:
    """A new thread in an active session (409 when the session is paused or ended)."""
    check_query(request, (), BODY_ONLY)
    user = principal_of(request)
    state = state_of(request)
    session = await load_session(state, user, body.session_id)
    headers = await state.rate.hit(body.session_id)
    charged = await state.quota.charge(session.user_id, text_bytes(body.original_prompt, body.context))
    try:
        thread = await state.orchestrator.create_thread(
            body.session_id, body.original_prompt, domain=body.domain, context=body.context
        )
    except BaseException:
        await state.quota.refund(session.user_id, charged)
        raise
    return document(thread, 201, headers)


@router.get("/session/{session_id}", response_model=list[Thread], summary="List Session Threads")
async def list_session_threads(session_id: str, request: Request, limit: Limit = 100, offset: Offset = 0) -> Response:
    check_page(request)
    user = principal_of(request)
    state = state_of(request)
    await load_session(state, user, session_id)
    headers = await state.rate.hit(session_id)
    return await stream_documents(
        lambda n, at: state.store.list_threads(session_id, limit=n, offset=at), limit, offset, headers
    )


@router.get("/session", include_in_schema=False)
async def no_session_named() -> Response:
    """`GET /api/threads/session/` (a session id left empty) was read as the thread `session`."""
    raise NotFound("no session given: the threads of a session are listed at /api/threads/session/{session_id}")


@router.get("/{thread_id}", response_model=Thread, summary="Get Thread")
async def get_thread(thread_id: str, request: Request) -> Response:
    check_query(request, (), ONE_RECORD)
    user = principal_of(request)
    state = state_of(request)
    thread = await load_thread(state, user, thread_id)
    return document(thread, headers=await state.rate.hit(thread.session_id))
