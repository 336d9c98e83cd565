"""The 404 of a URL under `/v1` that this server does not serve, saying what went wrong where it can be told.

It said only "Unknown request URL: see /v1/chat/completions and /v1/models", the same for every case, and the openai
SDK shows that message alone, not the URL it requested. So a client whose base URL names the endpoint
(`OpenAI(base_url="http://host:8000/v1/chat/completions")`, as tools asking for "the endpoint URL" are given it) was
told to see the very path it thought it had used, and one asking for an API of OpenAI's this server does not have
(the Responses API of the Agents SDK and Codex, embeddings) was not told it is not served.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["stored_completions", "unknown_v1_url"]

_SERVED = ("/chat/completions", "/models")
"""The paths below `/v1` this server serves (and `/models/{model}`)."""

_NOT_SERVED = {
    "/responses": "the Responses API",
    "/completions": "the legacy Completions API",
    "/embeddings": "embeddings",
    "/moderations": "moderations",
    "/audio": "audio",
    "/images": "images",
    "/files": "files",
    "/batches": "batches",
    "/assistants": "the Assistants API",
    "/threads": "the Assistants API",
    "/vector_stores": "vector stores",
    "/fine_tuning": "fine-tuning",
    "/realtime": "the Realtime API",
}
"""Paths of OpenAI's API this server does not serve, and what they are."""

_DEPLOYMENTS = "/deployments/"
"""Where an `AzureOpenAI` client given a base URL (`base_url=".../v1"`) puts its deployment: `/v1/deployments/{model}/
chat/completions` (given `azure_endpoint` instead, it sends `/openai/deployments/…`: `_missing_v1`)."""

_SERVES = "this server serves POST /v1/chat/completions and GET /v1/models (and /v1/models/{model})"


def unknown_v1_url(method: str, rest: str, url: str) -> str:
    """The message of the 404 of `method url` (`rest`: its path below `/v1`)."""
    rest = rest or "/"
    base = url[: len(url) - len(rest)].rstrip("/") if url.endswith(rest) else url
    path = urlsplit(url).path
    if rest.startswith(_DEPLOYMENTS) and rest.endswith("/chat/completions"):  # (before "a path too many": it is not)
        return (
            f"{method} {path[:200]} is a path of Azure OpenAI's API, which this server does not serve: an AzureOpenAI"
            f" client adds /deployments/{{model}} to its base URL; use an OpenAI client (not AzureOpenAI) with the base"
            f" URL {base[:200]}: {_SERVES}"
        )
    for served in _SERVED:  # a base URL with a path too many: `/v1/chat/completions/chat/completions`, `/v1/v1/models`
        at = rest.rfind(served)
        if at > 0 and (rest.endswith(served) or rest[at + len(served) :].startswith("/")):
            return (
                f"{method} {path[:200]} is not a URL of this API: the client's base URL ends in {rest[:at][:100]} too"
                f" many; set it to {base[:200]} (the client adds {served}): {_SERVES}"
            )
    stored = stored_completions(rest)
    if stored is not None:
        return f"{method} {path[:200]}: {stored}"
    for prefix, what in _NOT_SERVED.items():
        if rest == prefix or rest.startswith(prefix + "/"):
            return f"{what} ({path[:200]}) is not served here: {_SERVES}; use the client's Chat Completions API"
    return f"Unknown request URL: {method} {path[:200]}; {_SERVES}"


_STORED = (
    "stored chat completions (OpenAI's `GET /v1/chat/completions/{id}`, its list and messages) are not served here:"
    " `store` is accepted and not acted on; every call is an orchestration, kept with its answer"
)


def stored_completions(rest: str) -> str | None:
    """Why a URL of OpenAI's stored chat completions (`client.chat.completions.retrieve(id)`, `.list()`,
    `.messages.list(id)`, `.update`, `.delete`) is not served, and where the call's record is; None for another URL.
    Such a call was answered "Unknown request URL", as if the completion were missing, or, for the list, "use POST"."""
    if rest.rstrip("/") == "/chat/completions":
        return f"{_STORED}: GET /api/orchestration/status/{{id}} (the id after `chatcmpl-`) shows one"
    if not rest.startswith("/chat/completions/"):
        return None
    name = rest.removeprefix("/chat/completions/").split("/", 1)[0]
    oid = name.removeprefix("chatcmpl-")
    if len(oid) == 24 and all(c in "0123456789abcdef" for c in oid):
        return f"{_STORED}: follow GET /api/orchestration/status/{oid}"
    return f"{_STORED}: GET /api/orchestration/status/{{id}} (the id after `chatcmpl-`) shows one"
