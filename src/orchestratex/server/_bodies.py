"""`CheckedJsonRoute`: a JSON body that names a field twice in one object is refused, not read as its last value; one
sent compressed (`Content-Encoding: gzip`) is refused with 415 saying so.

Python's JSON parser keeps the last of two values of one name, so `{"settings": {"cost_limit": 5}, "settings": {}}`
(two fragments of a templated body merged, say) created a session with no budget at all, without a word: the limit
the client wrote was dropped. Which one was meant is not for the server to guess, as for a query parameter given
twice (`given_once`): the request is refused with 422 naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Scope

from ._errors import ApiError, invalid, quoted

__all__ = ["CheckedJsonRoute", "GivenTwice", "content_coding", "object_once"]


class GivenTwice(Exception):
    """A name given twice in one JSON object (`object_once`)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def object_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object from its name/value pairs (`json.loads`'s `object_pairs_hook`), or `GivenTwice` naming a name
    given twice."""
    found = dict(pairs)
    if len(found) < len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise GivenTwice(name)
            seen.add(name)
    return found


class _CheckedRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            coding = content_coding(self.scope)
            if coding is not None:  # (read as it is, it was "not UTF-8 (byte 0x8b at 1)", or a plain one read as one)
                raise ApiError(
                    415,
                    f"the request body is sent with 'Content-Encoding: {coding[:40]}', which this server does not"
                    " decode: send it uncompressed (no Content-Encoding)",
                    {"Accept-Encoding": "identity"},
                )
            try:
                self._json = json.loads(await self.body(), object_pairs_hook=object_once)
            except GivenTwice as twice:
                message = "given more than once in an object of the body: give each field once"
                raise invalid("body", twice.name, message, detail=f"{quoted(twice.name)} is {message}") from None
        return self._json


def content_coding(scope: Scope) -> str | None:
    """The `Content-Encoding` of the request's body, unless there is none or it is `identity`. RFC 9110 (15.5.16)
    answers a content coding the server does not decode with 415."""
    for name, value in scope["headers"]:
        if name == b"content-encoding":
            coding = value.decode("latin-1").strip()
            return coding if coding and coding.lower() != "identity" else None
    return None


class CheckedJsonRoute(APIRoute):
    """A route whose JSON body may not give a field twice in one object (422 naming it), nor come compressed (415:
    a gzip body was answered "not UTF-8 (byte 0x8b at 1)", a plain one labelled gzip read as if it were not). A check
    of the route, not a middleware: requests without a JSON body pay nothing for it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def checked(request: Request) -> Response:
            return await handle(_CheckedRequest(request.scope, request.receive, request._send))

        return checked
