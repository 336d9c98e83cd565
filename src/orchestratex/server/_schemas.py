"""Request bodies and response documents of the REST API (documents carry `_id`, `created_at`, `updated_at`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Literal

from fastapi import Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from ..domains import check_domain
from ..exceptions import UserError
from ..orchestrator._chat import blank
from ..records import Orchestration, Session, SessionStatus, Thread
from ..stores import Analytics, ModelStats
from ..usage import MAX_AMOUNT
from ._errors import clipped, invalid
from ._numbers import Integer, Number
from ._users import UserId

__all__ = [
    "BODY_ONLY",
    "MAX_DOMAIN_CHARS",
    "UNREAD",
    "Analytics",
    "Limit",
    "ModelOut",
    "Offset",
    "Orchestration",
    "OrchestrationStart",
    "Session",
    "SessionCreate",
    "SessionSettingsIn",
    "SessionStatusUpdate",
    "StartSettings",
    "Thread",
    "ThreadCreate",
    "check_page",
    "check_query",
    "document",
    "given_once",
    "stream_documents",
]

Limit = Annotated[int, Query(ge=1, le=1000, description="Most items to return")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip")]


def given_once(request: Request, name: str) -> str | None:
    """The query parameter `name`, or None; 422 when it is given more than once in the URL (`?limit=5&limit=7`: which
    one was meant is not for the server to guess), as the WebSocket's `since` and `token` are refused."""
    given = request.query_params.getlist(name)
    if len(given) > 1:
        raise invalid("query", name, "given more than once in the URL: give it once")
    return given[0] if given else None


_PAGE = ("limit", "offset")
"""The query parameters of a list."""

UNREAD = frozenset({"token", "_"})
"""Query parameters a client may add to any URL, left alone: `token` (a WebSocket's key, which a client may send
everywhere) and `_` (the cache buster of jQuery's `cache: false`, `?_=1733500000000`)."""


def check_query(request: Request, taken: Sequence[str], message: str) -> None:
    """422 (`message`) for a query parameter other than `taken` and `UNREAD`: one a route does not read is not
    ignored, so a filter or a position under another name is not answered as if it were not there."""
    for name in request.query_params:
        if name not in taken and name not in UNREAD:
            raise invalid("query", clipped(name), message, "extra_forbidden")


BODY_ONLY = "not a query parameter of this route, which reads its JSON body only: give it there"
"""The 422 of a query parameter sent to a route creating a record (`POST /api/sessions/?user_id=bob` made the admin's
own session, the parameter unread)."""


ONE_RECORD = "not a query parameter of this route, which takes none: it is about the one record its path names"
"""The 422 of a query parameter sent to a route reading or acting on one record (`GET /api/models/gpt4?provider=openai`
answered the model whatever its provider, `?fields=status` the whole record), as the lists refuse a filter they do not
read."""


def check_page(request: Request) -> None:
    """422 for a `limit` or `offset` given more than once (`given_once`), or not in plain ASCII digits (`1_0`, `+5`,
    `5.0` would be read as numbers), as the WebSocket's `since` is refused; and for a query parameter a list does not
    take: `?skip=100` (FastAPI's and MongoDB's name for `offset`) or `?page=2` answered the first page again, so a
    client paging on until a page came back short never ended, and `?status=active` answered every session."""
    check_query(
        request,
        _PAGE,
        "not a query parameter of this list, which takes limit (most items, 1 to 1000) and offset (items to skip, 0"
        " to 1000000) and filters nothing",
    )
    for name in _PAGE:
        given = given_once(request, name)
        if given is not None and not (given.isascii() and given.isdigit()):
            raise invalid(
                "query", name, f"must be a whole number in plain digits, not {clipped(given)!r}", "int_parsing"
            )


MAX_DOMAIN_CHARS = 100
"""The longest domain a request may name: a domain is a name (`coding`, `acme-contracts`), stored with every thread
and orchestration and counted in no storage quota."""


def _domain(value: object) -> object:
    """`check_domain`, for a request's `domain`: the library's reading (a built-in domain in any case, or a name of
    one's own) and its message; a name over `MAX_DOMAIN_CHARS` is refused."""
    try:
        domain = check_domain(value)
    except UserError as exc:
        raise PydanticCustomError("domain", exc.message) from None
    if domain is not None and len(domain) > MAX_DOMAIN_CHARS:
        raise PydanticCustomError(
            "domain",
            "a domain is a name of at most {most} characters, not {length}: name the task's kind (the text goes in"
            " the prompt or the context)",
            {"most": MAX_DOMAIN_CHARS, "length": len(domain)},
        )
    return domain


Domain = Annotated[
    str | None,
    BeforeValidator(_domain),
    Field(
        description="coding, math, science, writing, analysis or general (any case), or a name of your own (at most"
        " 100 characters)"
    ),
]
_ID = Field(min_length=1, max_length=64)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class SessionSettingsIn(_In):
    """Settings applied to every orchestration of the session."""

    preferred_models: list[str] | None = Field(default=None, min_length=1, max_length=100)
    """Route only among these models (names or aliases, as `GET /api/models/` lists them)."""
    cost_limit: Number | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    """US dollars the session may spend in all; never exceeded."""
    judges: list[str] | None = Field(default=None, min_length=1, max_length=100)
    """Models that may judge the session's answers (names or aliases); the server's judges when unset."""
    judging: Literal["always", "when_needed", "when_possible"] | None = None
    """`when_needed` returns an answer unjudged when no decision depends on its verdict (e.g. one iteration);
    `when_possible` returns one unjudged when no judge gave a verdict on it (every judge failed), not failing."""


def _unset_if_null(value: object) -> object:
    """`"settings": null` as `settings` left out (its defaults), as `null` is for every other optional field (a client
    serialising an unset option as `null`, as JSON encoders of typed models do)."""
    return {} if value is None else value


Settings = BeforeValidator(_unset_if_null)


def _example(body: JsonDict) -> ConfigDict:
    """A request model's example, which `/docs` ("Try it out") sends as it is: without one, Swagger UI made up a body
    of `"string"` values (`"user_id": "string"`, `"preferred_models": ["string"]`) that every request refused."""
    return ConfigDict(json_schema_extra={"examples": [body]})


class SessionCreate(_In):
    """`POST /api/sessions/`."""

    model_config = _example({"max_iterations": 5, "settings": {"cost_limit": 10.0}})

    user_id: UserId | None = None
    """The session's owner; defaults to the API key's user. A non-admin key may only name its own user."""
    max_iterations: Integer | None = Field(default=None, ge=1, le=50)
    """Most attempts per orchestration (default 5)."""
    settings: Annotated[SessionSettingsIn, Settings] = Field(default_factory=SessionSettingsIn)


class SessionStatusUpdate(_In):
    """`PATCH /api/sessions/{session_id}/status`: `active` ⇄ `paused`, then `completed` or `cancelled` (final)."""

    model_config = _example({"status": "completed"})

    status: SessionStatus


def _no_blank_context(value: object) -> object:
    """A context that shows nothing (white space, invisible characters: an empty form field sent with a space or a
    line break) is no context, as an empty one is: it was sent to the models as a bare "Context:" label."""
    return None if isinstance(value, str) and blank(value) else value


def _not_blank(value: object) -> object:
    """A prompt that shows nothing (`""`, white space, a zero-width space alone: `blank`) is refused as the field's
    validation error (422, naming the field), as an empty one was: one of spaces was the library's 400, "" a 422."""
    if isinstance(value, str) and blank(value):
        raise PydanticCustomError("string_blank", "the prompt is empty: give the text to orchestrate")
    return value


Prompt = Annotated[str, Field(min_length=1), BeforeValidator(_not_blank)]
"""A prompt of a request: text that shows something."""


class ThreadCreate(_In):
    """`POST /api/threads/`."""

    model_config = _example(
        {
            "session_id": "68b2c9faa82de4230e87701c",
            "original_prompt": "Write a Python function to calculate fibonacci numbers",
            "domain": "coding",
            "context": "This is for a beginner programming tutorial",
        }
    )

    session_id: str = _ID
    original_prompt: Prompt
    domain: Domain = None
    """Detected from the prompt when omitted (any case: `CODING` is `coding`)."""
    context: Annotated[str | None, BeforeValidator(_no_blank_context)] = None
    """Extra context for the models, sent after the prompt; blank (or empty) is none."""


class StartSettings(_In):
    """How this orchestration runs; unset fields take the session's settings, then the defaults."""

    max_iterations: Integer | None = Field(default=None, ge=1, le=50)
    preferred_models: list[str] | None = Field(default=None, min_length=1, max_length=100)
    evaluation_threshold: Number | None = Field(default=None, ge=0, le=10)
    cost_limit: Number | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    """A cap for this orchestration alone, within the session's budget."""


class OrchestrationStart(_In):
    """`POST /api/orchestration/start`."""

    model_config = _example(
        {"thread_id": "68b2c9faa82de4230e87701d", "settings": {"max_iterations": 5, "evaluation_threshold": 8.0}}
    )

    thread_id: str = _ID
    prompt: Prompt | None = None
    """Defaults to the thread's `original_prompt`."""
    settings: Annotated[StartSettings, Settings] = Field(default_factory=StartSettings)


class ModelOut(BaseModel):
    """A model of the catalog with its live status."""

    name: str
    provider: str
    version: str
    specialties: list[str]
    cost_per_1k_tokens: float | None
    input_cost_per_1k: float | None
    output_cost_per_1k: float | None
    context_window: int
    max_output_tokens: int
    status: str
    """`active`, `deprecated`, `disabled`, or `circuit_open` / `circuit_half_open` while the model cools down."""
    circuit: Literal["closed", "open", "half_open"]
    aliases: list[str]
    stats: ModelStats
    """Live statistics over every recorded call: requests, error rate, latency p50/p95, mean score per domain (the
    built-in domains only, unless the key is an admin's: a domain of one's own is a name some user chose)."""


def document(
    model: BaseModel | Sequence[BaseModel], status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """`model` (or a list of models) as JSON with `_id` aliases, skipping FastAPI's re-validation."""
    if isinstance(model, BaseModel):
        body = model.model_dump_json(by_alias=True)
    else:
        body = "[" + ",".join(m.model_dump_json(by_alias=True) for m in model) + "]"
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


_STREAM_PAGE = 8
"""Documents read from the store at a time by `stream_documents`."""


async def stream_documents(
    fetch: Callable[[int, int], Awaitable[Sequence[BaseModel]]],
    limit: int,
    offset: int,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A JSON list of up to `limit` documents from `offset`, read from the store a few at a time and sent as they
    are serialised: a list of large documents never sits in memory whole (nor in the socket's buffer, since
    each piece waits for the client to take the previous one). `fetch(limit, offset)` reads one page."""
    first = await fetch(min(_STREAM_PAGE, limit), offset)  # before answering: an error still gets its status

    async def body() -> AsyncIterator[bytes]:
        page, sent, at = first, 0, offset
        yield b"["
        while page:
            for doc in page:
                yield (b"," if sent else b"") + doc.model_dump_json(by_alias=True).encode()
                sent += 1
            at += len(page)
            if len(page) < _STREAM_PAGE or sent >= limit:
                break
            page = await fetch(min(_STREAM_PAGE, limit - sent), at)
        yield b"]"

    return StreamingResponse(body(), media_type="application/json", headers=headers)
