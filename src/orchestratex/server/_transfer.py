"""`TransferCodingGuard`: a request body sent with a transfer coding other than `chunked` is refused with 501.

`Transfer-Encoding: gzip, chunked` (a body compressed hop by hop, as some proxies and HTTP libraries send it) reaches
the app as the compressed bytes once uvicorn has taken the chunks off: a JSON route answered it 400 "not UTF-8 (byte
0x8b at 1)", sending the client after a character-set problem it did not have, and a body labelled so but sent plain
was read as if unlabelled. RFC 9112 (6.1): a server that receives a transfer coding it does not understand SHOULD
answer 501 (Not Implemented). Only `chunked` is decoded here (`identity`, from RFC 2616, adds nothing and is let by).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ._errors import error_response
from ._openai_shape import openai_error_object, under_v1
from ._paths import route_path

__all__ = ["TransferCodingGuard", "unknown_transfer_codings"]

_UNDERSTOOD = frozenset({"chunked", "identity"})


def unknown_transfer_codings(scope: Scope) -> str | None:
    """The request's `Transfer-Encoding` as sent, when it names a coding other than `chunked`; else None."""
    values = [value.decode("latin-1").strip() for name, value in scope["headers"] if name == b"transfer-encoding"]
    codings = [part.split(";")[0].strip().lower() for value in values for part in value.split(",")]
    if any(coding and coding not in _UNDERSTOOD for coding in codings):
        return ", ".join(values)
    return None


class TransferCodingGuard:
    """ASGI middleware answering 501 to an HTTP request whose body has a transfer coding other than `chunked`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            codings = unknown_transfer_codings(scope)
            if codings is not None:
                detail = (
                    f"the request body is sent with 'Transfer-Encoding: {codings[:60]}', which this server does not"
                    " decode: send it uncompressed, with 'Transfer-Encoding: chunked' alone or a Content-Length"
                )
                extra = {"error": openai_error_object(detail, "unsupported_transfer_encoding")}
                response = error_response(501, detail, **(extra if under_v1(route_path(scope)) else {}))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
