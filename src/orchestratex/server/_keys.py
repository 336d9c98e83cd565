"""Admin API for keys: list them, revoke one (a revoked key is refused at once, and its WebSockets and `/v1`
calls, streamed or not, end)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from .._ids import is_object_id
from .._timestamps import Timestamp
from .._user_keys import user_keys
from ..exceptions import NotFound
from ..records import ApiKey
from ._access import id_rule
from ._app import state_of
from ._auth import Principal, principal_of
from ._bodies import CheckedJsonRoute
from ._errors import ERROR_RESPONSES, ApiError, ErrorBody, invalid, quoted
from ._schemas import ONE_RECORD, check_query, given_once
from ._users import MAX_USER_ID_CHARS, user_id_problem

if TYPE_CHECKING:
    from ._app import ServerState

__all__ = ["ApiKeyInfo", "OpenSockets", "key_info", "revoked_first", "router", "watch_key"]

router = APIRouter(
    route_class=CheckedJsonRoute,
    prefix="/api/admin/keys",
    tags=["admin"],
    responses={**ERROR_RESPONSES, 403: {"model": ErrorBody, "description": "The key is not an admin key"}},
)


class ApiKeyInfo(BaseModel):
    """An API key as the admin API shows it: never the key, never its hash."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(alias="_id")
    user_id: str
    admin: bool
    label: str | None = None
    created_at: Timestamp
    updated_at: Timestamp
    """When the key last changed (its revocation; not its use, which is `last_used_at`)."""
    revoked_at: Timestamp | None = None
    last_used_at: Timestamp | None = None
    """When a server last authenticated a request with it (recorded at most once a minute)."""


def key_info(key: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=key.id,
        user_id=key.user_id,
        admin=key.admin,
        label=key.label,
        created_at=key.created_at,
        updated_at=key.updated_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
    )


class OpenSockets:
    """The open WebSockets and `/v1` streams of this process by the id of the key each authenticated with."""

    def __init__(self) -> None:
        self._by_key: dict[str, set[asyncio.Event]] = {}

    def open(self, key_id: str | None) -> asyncio.Event:
        """An event set when `key_id` is revoked through this process."""
        revoked = asyncio.Event()
        if key_id is not None:
            self._by_key.setdefault(key_id, set()).add(revoked)
        return revoked

    def close(self, key_id: str | None, revoked: asyncio.Event) -> None:
        sockets = self._by_key.get(key_id or "")
        if sockets is not None:
            sockets.discard(revoked)
            if not sockets:
                del self._by_key[key_id or ""]

    def revoke(self, key_id: str) -> int:
        """Signal every socket of `key_id` to close; returns how many there were."""
        sockets = self._by_key.pop(key_id, set())
        for revoked in sockets:
            revoked.set()
        return len(sockets)


async def watch_key(state: ServerState, key: str | None, revoked: asyncio.Event) -> None:
    """Return once `key` is revoked: signalled through this process (`revoked`), or found by a check in the store
    every `ws_auth_check_s` (one read per check, whatever flows meanwhile)."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(revoked.wait(), state.settings.ws_auth_check_s)
        if revoked.is_set():
            return
        try:
            await state.auth.principal(key)
        except ApiError:
            return
        except Exception:  # the store is unreachable: keep the stream, check again later
            continue


async def revoked_first(state: ServerState, key: str | None, key_id: str | None, task: asyncio.Task[Any]) -> bool:
    """Wait until `task` is done or `key` (of id `key_id`) is revoked; True if the key was revoked first (`task`
    is then left running: stop it)."""
    signal = state.sockets.open(key_id)
    watcher = asyncio.create_task(watch_key(state, key, signal), name="orchestratex-v1-key")
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        return watcher.done()
    finally:
        watcher.cancel()
        state.sockets.close(key_id, signal)


def _admin(request: Request) -> Principal:
    principal = principal_of(request)
    if not principal.admin:
        raise ApiError(403, "an admin key is required (`orchestratex keys create USER_ID --admin`)")
    return principal


@router.get("/", response_model=list[ApiKeyInfo], summary="List API Keys")
async def list_keys(
    request: Request, user_id: str | None = Query(default=None, min_length=1, max_length=MAX_USER_ID_CHARS)
) -> list[ApiKeyInfo]:
    """Every key (of `user_id` when given, once), revoked ones included, oldest first; admin keys only."""
    _admin(request)
    # (`?user=alice` listed every user's keys: revoking "alice's" revoked them all)
    check_query(request, ("user_id",), "not a query parameter of the keys list, which takes user_id only")
    given_once(request, "user_id")
    problem = None if user_id is None else user_id_problem(user_id)
    if problem is not None:  # (`?user_id=%20alice` listed nothing, read as "alice has no keys")
        raise invalid("query", "user_id", problem)
    return [key_info(k) for k in await user_keys(state_of(request).store, user_id)]


@router.delete("/{key_id}", response_model=ApiKeyInfo, summary="Revoke API Key")
async def revoke_key(key_id: str, request: Request) -> Response:
    """Revoke a key: every server sharing the store refuses it from its next request on, and this
    server closes its open WebSockets (code 1008) and ends its `/v1` streams (their orchestrations
    stopped); other servers do so within `ws_auth_check_s`. Revoking a revoked key changes nothing.
    404 when there is no such key."""
    _admin(request)
    check_query(request, (), ONE_RECORD)
    if not is_object_id(key_id):
        raise NotFound(f"no API key {quoted(key_id)} {id_rule(key_id, ', as `keys list` shows them')}")
    state = state_of(request)
    key = await state.store.revoke_api_key(key_id)
    state.auth.forget(key_id)
    state.sockets.revoke(key_id)
    return Response(key_info(key).model_dump_json(by_alias=True), media_type="application/json")
