"""The 404 of a path of OpenAI's API sent outside `/v1`: a client given another base URL than `http://host:port/v1`.

`OpenAI(base_url="http://127.0.0.1:8000")` (or `OPENAI_BASE_URL` without `/v1`, the commonest slip) sends
`POST /chat/completions`, which no route serves: its 404 said only "Not Found" (and the openai SDK, which shows an
error's `message` only, "Error code: 404"). So did a base URL with another prefix — `http://host:8000/api` (the spec's
API is there), `http://host:8000/openai/v1` (as some gateways write theirs) — and an `AzureOpenAI` client, whose
paths are `/openai/deployments/{name}/chat/completions`. Each now says where that API is, in the API's shape
(`detail`) and OpenAI's (`error.message`), which the SDK shows.
"""

from __future__ import annotations

__all__ = ["missing_v1"]

_OPENAI_PATHS = ("/chat/completions", "/models")
"""Paths of OpenAI's API (the SDK joins them to its base URL) that this server serves under `/v1`."""

_AZURE = "/openai/deployments/"
"""Where Azure OpenAI's paths begin (`AzureOpenAI` clients send `…/openai/deployments/{name}/chat/completions`)."""


def missing_v1(path: str, base_url: str) -> str | None:
    """The detail of the 404 of `path` when it is a path of OpenAI's API outside `/v1`, else None."""
    base = base_url.rstrip("/")
    fix = f"set the client's base URL to {base}/v1 (with its /v1), e.g. POST {base}/v1/chat/completions"
    if any(path == p or path.startswith(f"{p}/") for p in _OPENAI_PATHS):
        return f"Not Found: {path} is a path of OpenAI's API, which this server serves under /v1: {fix}"
    if _AZURE in path and path.endswith("/chat/completions"):
        return (
            f"Not Found: {path[:200]} is a path of Azure OpenAI's API, which this server does not serve: it serves"
            f" OpenAI's under /v1; use an OpenAI client (not AzureOpenAI) and {fix}"
        )
    if path.endswith(("/chat/completions", "/models")):  # (another prefix: `/api/chat/completions`, `/openai/v1/…`)
        prefix = path.removesuffix("/chat/completions").removesuffix("/models")
        return (
            f"Not Found: {path[:200]} is not a path of this server (the client's base URL ends in {prefix[:100]}):"
            f" OpenAI's API is served under /v1: {fix}"
        )
    return None
