"""`SpecForms`: a request in another form of a documented one is answered as the documented one.

- A path the OpenAPI schema lists with a trailing slash (the spec's `POST /api/sessions/`,
  `POST /api/threads/`, `GET /api/models/`) asked without it is answered as the listed path. FastAPI
  would answer a 307 redirect, which curl does not follow and clients follow for a POST only in some
  configurations: the user got an empty answer. The schema keeps listing the spec's form only.
- `HEAD` is answered as `GET`, without the body (FastAPI's routes answer 405 to it); a path with no
  `GET` answers as a `GET` would (405 with `Allow`, or 404).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._paths import route_path

__all__ = ["ASKED_METHOD", "SpecForms"]

ASKED_METHOD = "orchestratex.asked_method"
"""The scope key holding the method a `HEAD` request was sent with, once answered as `GET` (for `/metrics`)."""


class SpecForms:
    """ASGI middleware; `documented()` returns the app's OpenAPI schema (read once, at the first request)."""

    def __init__(self, app: ASGIApp, documented: Callable[[], Mapping[str, Any]]) -> None:
        self.app = app
        self.documented = documented
        self._unslashed: frozenset[str] | None = None
        """The documented paths that end in `/`, without it."""

    def unslashed(self) -> frozenset[str]:
        if self._unslashed is None:
            paths = self.documented()["paths"]
            self._unslashed = frozenset(p[:-1] for p in paths if len(p) > 1 and p.endswith("/"))
        return self._unslashed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        slashless = route_path(scope) in self.unslashed()
        head = scope["method"] == "HEAD"
        if not (slashless or head):
            await self.app(scope, receive, send)
            return
        scope = dict(scope)  # (the server's own scope keeps the request as sent: its log, its HEAD handling)
        if slashless:
            scope["path"] = path + "/"
            scope["raw_path"] = (scope.get("raw_path") or path.encode()) + b"/"
        if not head:
            await self.app(scope, receive, send)
            return
        scope["method"] = "GET"
        scope[ASKED_METHOD] = "HEAD"

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, send_headers_only)
