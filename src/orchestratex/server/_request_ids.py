"""`x-request-id` on every answer of the OpenAI-compatible API (`/v1`), as OpenAI's API sends one.

The openai SDK reads it into `response._request_id` (and an error's `request_id`), which clients log to correlate a
call with the server's side; without it they logged None. The server's log line of a `/v1` request that failed
unexpectedly carries the same id (`request_id`).
"""

from __future__ import annotations

import secrets

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._openai_shape import under_v1
from ._paths import route_path

__all__ = ["REQUEST_ID", "V1RequestIds", "request_id"]

REQUEST_ID = "orchestratex.request_id"
"""The scope's key holding the request's id."""


def request_id(scope: Scope) -> str | None:
    """The id `V1RequestIds` gave the request of `scope`, if any."""
    said = scope.get(REQUEST_ID)
    return said if isinstance(said, str) else None


class V1RequestIds:
    """ASGI middleware: each HTTP request under `/v1` gets an id (`req_` and 32 hexadecimal digits, as OpenAI's), sent
    back as `x-request-id` on its answer, an error's too (a refusal of the layers inside this one: a body too large,
    a request without a key). Other requests pass as they are."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not under_v1(route_path(scope)):
            await self.app(scope, receive, send)
            return
        ident = scope[REQUEST_ID] = f"req_{secrets.token_hex(16)}"

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("x-request-id", ident)
            await send(message)

        await self.app(scope, receive, sending)
