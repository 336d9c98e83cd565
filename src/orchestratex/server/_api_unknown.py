"""The 404 of a URL under `/api/` that no route serves, naming the routes near it.

`GET /api/orchestration/{id}` (the status route is `/api/orchestration/status/{id}`), `/api/session/{id}` or
`/api/sessions/{id}/threads` — the URLs a client guesses — answered a bare "Not Found", which reads as "no such
record": the user went looking for a run they had just started. It now says the URL is no route of the API and
lists the routes of the same part of it (from the OpenAPI schema, so it never goes stale). A request changing a
session or a run sent to its document (`PATCH /api/sessions/{id}`) gets, with its 405, the route that does it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

__all__ = ["doubled_slash", "list_hint", "stop_hint", "unknown_api_url"]

_METHODS = ("get", "post", "patch", "put", "delete")


def unknown_api_url(method: str, path: str, documented: Mapping[str, Any]) -> str | None:
    """The detail of the 404 of `method path` when `path` is under `/api/`, from the schema's `paths`; else None."""
    if not path.startswith("/api/"):  # (`/api` itself needs no key: it tells nothing of the API)
        return None
    parts = [p for p in path.split("/") if p]
    prefix = "/" + "/".join(parts[:2]) + "/"
    near = [f"{m.upper()} {p}" for p, item in documented.items() if p.startswith(prefix) for m in _METHODS if m in item]
    if not near:
        groups = sorted({"/".join(p.split("/")[:3]) + "/" for p in documented if p.startswith("/api/")})
        return f"Not Found: {method} {path[:200]} is no route of this API; its routes begin {', '.join(groups)}"
    return f"Not Found: {method} {path[:200]} is no route of this API; the routes under {prefix} are {', '.join(near)}"


_SLASHES = re.compile(r"//+")


def doubled_slash(method: str, path: str) -> str | None:
    """The detail of the 404 of `method path` when `path` holds `//`, which no URL of this server has: a client
    joining a base URL that ends in `/` (`http://host:8000/`) to a path that begins with one sent `//api/sessions/`,
    answered a bare "Not Found" that reads as "no such record" (`/v1` says it so); else None."""
    single = _SLASHES.sub("/", path)
    if single == path:
        return None
    return (
        f"Not Found: {method} {path[:200]} is no URL of this server: it has a / too many (//), as when a client's"
        f" base URL ending in / is joined to a path beginning with one; send {method} {single[:200]}"
    )


_STOPS = (
    (
        re.compile(r"/api/sessions/([0-9a-fA-F]{24})/?"),
        "a session's status is set with PATCH /api/sessions/{}/status (completed or cancelled ends it and stops its"
        " runs)",
    ),
    (
        re.compile(r"/api/orchestration/status/([0-9a-fA-F]{24})/?"),
        "an orchestration is stopped with POST /api/orchestration/{}/cancel",
    ),
)


def stop_hint(method: str, path: str) -> str | None:
    """Where to send a request changing a session or an orchestration that was sent to its document (`PATCH
    /api/sessions/{id}` with `{"status": "completed"}`, `DELETE /api/orchestration/status/{id}`), which answered 405
    "use GET, HEAD" alone: read as "sessions cannot be ended", while the runs went on paying; else None."""
    if method in ("GET", "HEAD"):
        return None
    for pattern, hint in _STOPS:
        if (match := pattern.fullmatch(path)) is not None:
            return hint.format(match.group(1))
    return None


_LISTS = {
    "/api/sessions/": "a user's sessions are listed with GET /api/sessions/user/{}",
    "/api/threads/": "a session's threads are listed with GET /api/threads/session/{{session_id}}",
}


def list_hint(method: str, path: str, user_id: str | None) -> str | None:
    """Where a list is read, for a `GET` of the route that creates its records (`GET /api/sessions/`, REST's way of
    listing a collection), which answered 405 "use POST" alone: read as "sessions cannot be listed"; else None.
    `user_id` (the caller's) fills in the sessions' list."""
    if method not in ("GET", "HEAD"):
        return None
    hint = _LISTS.get(path if path.endswith("/") else path + "/")
    return None if hint is None else hint.format("{user_id}" if user_id is None else quote(user_id, safe=""))
