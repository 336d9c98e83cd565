"""The 404 of a path of OpenAI's API sent without `/v1`: a client given the server's address as its base URL.

`OpenAI(base_url="http://127.0.0.1:8000")` (or `OPENAI_BASE_URL` without `/v1`, the commonest slip) sends
`POST /chat/completions`, which no route serves: its 404 said only "Not Found" (and the openai SDK, which shows an
error's `message` only, "Error code: 404"). It now says where that API is, in the API's shape (`detail`) and OpenAI's
(`error.message`), which the SDK shows.
"""

from __future__ import annotations

__all__ = ["missing_v1"]

_OPENAI_PATHS = ("/chat/completions", "/models")
"""Paths of OpenAI's API (the SDK joins them to its base URL) that this server serves under `/v1`."""


def missing_v1(path: str, base_url: str) -> str | None:
    """The detail of the 404 of `path` when it is a path of OpenAI's API without `/v1`, else None."""
    if not any(path == p or path.startswith(f"{p}/") for p in _OPENAI_PATHS):
        return None
    base = base_url.rstrip("/")
    return (
        f"Not Found: {path} is a path of OpenAI's API, which this server serves under /v1: set the client's base URL"
        f" to {base}/v1 (with its /v1), e.g. POST {base}/v1/chat/completions"
    )
