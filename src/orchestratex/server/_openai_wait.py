"""Waiting for the run of a `/v1/chat/completions` call without `stream`: until the run ends, the call's key is
revoked, or its client goes away (an SDK timeout, a closed connection), which then stops paying for an answer
nobody will read."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from starlette.requests import Request
from starlette.types import Receive

from ..records import TERMINAL_ORCHESTRATION_STATUSES, Orchestration
from ._app import ServerState
from ._auth import Principal, key_of
from ._keys import revoked_first

__all__ = ["client_gone", "ended", "wait_for_run"]


async def client_gone(receive: Receive) -> None:
    """Return once the client has disconnected (its request's body already read: the server's next message is
    `http.disconnect`; servers of ASGI 2.4+ only send it when asked)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def wait_for_run(
    state: ServerState, request: Request, user: Principal, task: asyncio.Task[Any]
) -> Literal["ended", "revoked", "gone"]:
    """Wait for `task` (the call's run) to end; else say why the wait stopped first: the key was `revoked`, or the
    client is `gone`. The run is left as it is: the caller stops it."""
    gone = asyncio.create_task(client_gone(request.receive), name="orchestratex-v1-client")
    either = asyncio.ensure_future(asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED))
    try:
        if await revoked_first(state, key_of(request), user.key_id, either):
            return "revoked"
    finally:
        either.cancel()
        gone.cancel()
    return "ended" if task.done() else "gone"


async def ended(state: ServerState, receive: Receive, orchestration_id: str) -> Orchestration | None:
    """The orchestration once it has ended (read from the store every `poll_interval_s`: it may run in another
    process), or None when the client went away first (nothing is cancelled: the run is the first call's)."""
    gone = asyncio.ensure_future(client_gone(receive))
    try:
        while True:
            doc = await state.store.get_orchestration(orchestration_id)
            if doc.status in TERMINAL_ORCHESTRATION_STATUSES:
                return doc
            await asyncio.wait((gone,), timeout=state.settings.poll_interval_s)
            if gone.done():
                return None
    finally:
        gone.cancel()
