"""`SpecForms`: a request in another form of a documented one is answered as the documented one.

- A path the OpenAPI schema lists with a trailing slash (the spec's `POST /api/sessions/`,
  `POST /api/threads/`, `GET /api/models/`) asked without it is answered as the listed path. FastAPI
  would answer a 307 redirect, which curl does not follow and clients follow for a POST only in some
  configurations: the user got an empty answer. The schema keeps listing the spec's form only.
- The other way round, an `/api/` path the schema lists without a trailing slash (`GET /api/sessions/{id}`,
  `PATCH /api/sessions/{id}/status`) asked with one is answered as the listed path, for the same reason; so are
  `/health/`, `/health/ready/` and `/metrics/`: a probe's empty 307 passed `curl -f` (a Docker `HEALTHCHECK`) and
  any check that takes a 3xx for a success, also while the store was unreachable. So are the API docs (`/docs/`,
  `/redoc/`, `/openapi.json/`), which the schema does not list: their empty 307 passed `curl -f` with nothing shown.
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


_UNLISTED = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
"""Paths outside `/api/` that the OpenAPI schema does not list (the docs and the schema itself), none ending in `/`."""


class SpecForms:
    """ASGI middleware; `documented()` returns the app's OpenAPI schema (read once, at the first request)."""

    def __init__(self, app: ASGIApp, documented: Callable[[], Mapping[str, Any]]) -> None:
        self.app = app
        self.documented = documented
        self._slashed: frozenset[str] | None = None
        """The documented paths that end in `/`."""
        self._fixed: frozenset[str] = frozenset()
        """The documented paths outside `/api/` (`/health`, `/health/ready`, `/metrics`) and `_UNLISTED`."""

    def slashed(self) -> frozenset[str]:
        if self._slashed is None:
            paths = self.documented()["paths"]
            self._fixed = _UNLISTED | {p for p in paths if not p.startswith("/api/") and not p.endswith("/")}
            self._slashed = frozenset(p for p in paths if len(p) > 1 and p.endswith("/"))
        return self._slashed

    def _form(self, path: str) -> str:
        """How the request's route path differs from the documented one: `+` a slash, `-` a slash, or ``."""
        if path.endswith("//"):  # (no form of a documented path: `/health//` is answered 404, `_paths`)
            return ""
        if path + "/" in self.slashed():
            return "+"
        if path.startswith("/api/") and path.endswith("/") and len(path) > len("/api/") and path not in self.slashed():
            return "-"
        if path.endswith("/") and path[:-1] in self._fixed:
            return "-"
        return ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        form = self._form(route_path(scope))
        head = scope["method"] == "HEAD"
        if not (form or head):
            await self.app(scope, receive, send)
            return
        scope = dict(scope)  # (the server's own scope keeps the request as sent: its log, its HEAD handling)
        raw = scope.get("raw_path") or path.encode()
        if form == "+":
            scope["path"], scope["raw_path"] = path + "/", raw + b"/"
        elif form == "-":
            scope["path"], scope["raw_path"] = path[:-1], raw.removesuffix(b"/")
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
