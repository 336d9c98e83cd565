"""`ContentCodingGuard`: a request body sent compressed (`Content-Encoding: gzip`) is refused with 415 saying so.

The API reads bodies as they are sent: a gzip-compressed JSON body was answered "the request body is not UTF-8 (byte
0x8b at 1)", which sent the client looking for a character-set problem, and a plain body labelled `gzip` was read
as if the label were not there. RFC 9110 (15.5.16) answers a content coding the server does not support with 415.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ._errors import error_response
from ._paths import route_path

__all__ = ["ContentCodingGuard"]


class ContentCodingGuard:
    """ASGI middleware answering 415 (with `Accept-Encoding: identity`) to an `/api/` request whose body has a
    `Content-Encoding` other than `identity` (`prefix`: the paths it guards; `/v1` answers in OpenAI's shape, on its
    own)."""

    def __init__(self, app: ASGIApp, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and route_path(scope).startswith(self.prefix):
            coding = _coding(scope)
            if coding is not None:
                detail = (
                    f"the request body is sent with 'Content-Encoding: {coding[:40]}', which this server does not"
                    " decode: send it uncompressed (no Content-Encoding)"
                )
                await error_response(415, detail, {"Accept-Encoding": "identity"})(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _coding(scope: Scope) -> str | None:
    """The `Content-Encoding` of the request's body, unless there is none, no body, or it is `identity`."""
    coding, body = None, False
    for name, value in scope["headers"]:
        if name == b"content-encoding":
            coding = value.decode("latin-1").strip()
        elif name == b"content-length":
            body = body or value.strip() not in (b"0", b"")
        elif name == b"transfer-encoding":
            body = True
    return coding if body and coding and coding.lower() != "identity" else None
