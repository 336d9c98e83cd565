"""Request paths: `route_path`, the path the app's routes see, and refusing paths holding control characters or a
slash too many (`//`), which no resource of the API has.

Starlette anchors its route patterns with `$`, which in Python also matches before a trailing
newline: `GET /api/models/%0A` would otherwise be answered by `GET /api/models/` (the list), and
`/api/sessions/%0A` by the sessions list. Such a path names nothing, so it gets the API's 404.

A path ending in `//` (`/health//`, `/api/models/gpt4//`: a path ending in `/` joined to one beginning with it) was
answered as another URL: an empty 307 to the path without its trailing slashes (which `curl -f` took for a success),
the model `gpt4/`, or `GET` not allowed on `/api/sessions/`. It gets the 404 saying so and naming the URL to send,
as a path with `//` elsewhere does once no route takes it (`/api/sessions//status`, an id left empty, is told so by its
route; `/v1` answers in OpenAI's shape itself).
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from ._api_unknown import doubled_slash
from ._errors import error_response

__all__ = ["CONTROL", "ControlCharacterGuard", "route_path"]

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
"""A control character: no path of the API holds one."""


def route_path(scope: Scope) -> str:
    """The request's path below the app's `root_path` (uvicorn's `--root-path`, a `Mount` of the app in another):
    what the routes match, so every check by path (keys on `/api/`, the docs' access, `/health`) sees it too.
    The ASGI `path` starts with the root path, which Starlette strips only when routing."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("/", ""):
        return path[len(root) :]
    return path


class ControlCharacterGuard:
    """ASGI middleware answering 404 to any HTTP request whose decoded path has a control character, or ends in `//`
    (outside `/v1`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and CONTROL.search(scope["path"]):
            response = error_response(404, f"no such resource: the path {scope['path']!r} holds a control character")
            await response(scope, receive, send)
            return
        path = route_path(scope) if scope["type"] == "http" and scope["path"].endswith("//") else "/v1/"
        doubled = None if path.startswith("/v1/") else doubled_slash(scope["method"], path)
        if doubled is not None:
            await error_response(404, doubled)(scope, receive, send)
            return
        await self.app(scope, receive, send)
