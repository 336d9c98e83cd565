"""Errors as HTTP answers, in one place: the `orchestratex.exceptions` tree, validation and HTTP errors
all become `{"detail": ..., "status_code": ...}`."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..exceptions import (
    BudgetExceeded,
    Conflict,
    EvaluationError,
    NotFound,
    OrchestrateXError,
    OrchestrationCancelled,
    ProviderError,
    StoreError,
    StoreFull,
    StoreUnavailable,
    UnknownModelError,
    UserError,
)
from ..orchestrator._chat import check_text
from ._api_unknown import doubled_slash, list_hint, stop_hint, unknown_api_url
from ._missing_v1 import missing_v1
from ._numbers import number_message
from ._openai_shape import openai_error_object
from ._redact import hide_keys

__all__ = [
    "DISK_FULL",
    "ERROR_RESPONSES",
    "RETRY_AFTER_S",
    "STORE_UNAVAILABLE",
    "ApiError",
    "ErrorBody",
    "Limit",
    "client_message",
    "clipped",
    "error_response",
    "forget_limit",
    "install_error_handlers",
    "invalid",
    "library_response",
    "note_limit",
    "note_rate",
    "note_user_rate",
    "public_reason",
    "quoted",
    "rate_headers",
    "refused_by",
    "status_for",
    "user_rate",
    "without_paths",
]

logger = logging.getLogger("orchestratex.server")

_STATUS: tuple[tuple[type[OrchestrateXError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (BudgetExceeded, 409),
    (OrchestrationCancelled, 409),
    (UserError, 400),
    (ProviderError, 502),
    (EvaluationError, 502),
    (StoreFull, 507),
    (StoreUnavailable, 503),
    (StoreError, 500),
)
"""Most specific first: the first class an error is an instance of gives its status."""


class ErrorBody(BaseModel):
    """Every error the server answers."""

    detail: str
    """What went wrong, and what to do about it."""
    status_code: int
    """The HTTP status, repeated in the body."""
    errors: list[dict[str, Any]] | None = Field(default=None)
    """For 422 only: each invalid field, as pydantic reports it."""


Limit = Literal["rate", "user_rate", "concurrency", "body_size", "storage_quota", "streams", "auth_failures"]
"""The limits that refuse requests (the `limit` label of `orchestratex_limits_hit_total`)."""

_REFUSED_BY: ContextVar[Limit | None] = ContextVar("orchestratex_refused_by", default=None)
"""The limit that refused the request being answered in this task, as its refusing code said (`note_limit`)."""


def note_limit(limit: Limit) -> None:
    """Say that the request being answered is refused by `limit` (read by the metrics: `refused_by`)."""
    _REFUSED_BY.set(limit)


def refused_by() -> Limit | None:
    """The limit that refused the request being answered, if one did (see `note_limit`)."""
    return _REFUSED_BY.get()


def forget_limit() -> None:
    """A new request is answered in this task: no limit has refused it yet (nor counted it: `note_rate`)."""
    _REFUSED_BY.set(None)
    _RATE.set(None)
    _USER_RATE.set(None)


_RATE: ContextVar[Mapping[str, str] | None] = ContextVar("orchestratex_rate", default=None)
"""The `RateLimit` headers of the request being answered in this task, once it is counted against a session."""


def note_rate(headers: Mapping[str, str]) -> None:
    """Say that the request being answered was counted against a session's rate, with these `RateLimit` headers: an
    error answered after that (a 409, a 413, …) carries them too, as every answer of a counted request does."""
    _RATE.set(headers)


_USER_RATE: ContextVar[tuple[int, int] | None] = ContextVar("orchestratex_user_rate", default=None)
"""What is left of the user's request limit for the request being answered in this task, once it is counted against
its user: (requests remaining, seconds until the window ends)."""


def note_user_rate(remaining: int, reset: int) -> None:
    """Say that the request being answered was counted against its user's limit, which has `remaining` requests left
    for `reset` seconds: its `RateLimit` headers then name that limit when it is closer than its session's."""
    _USER_RATE.set((remaining, reset))


def user_rate() -> tuple[int, int] | None:
    """What `note_user_rate` said of the request being answered, if anything."""
    return _USER_RATE.get()


def rate_headers(headers: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """`headers` with the `RateLimit` headers of the request being answered added (see `note_rate`), or None."""
    rate = _RATE.get()
    if rate is None:
        return dict(headers) if headers else None
    return {**rate, **(headers or {})}


class ApiError(StarletteHTTPException):
    """An HTTP error raised by the server itself (401, 404, 413, 429), with optional headers. One raised by a
    limit names it (`limit`): the request is then counted as refused by that limit."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        headers: Mapping[str, str] | None = None,
        *,
        limit: Limit | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=dict(headers) if headers else None)
        self.limit = limit
        if limit is not None:
            note_limit(limit)
        self.errors = errors
        """For a 422: the invalid parameter or field (`loc`, `msg`, `type`), as a validation error's 422 lists them."""

    def body_extra(self) -> dict[str, Any]:
        """What the error body carries beside `detail` and `status_code` (`errors`, for a 422)."""
        return {"errors": self.errors} if self.errors else {}


def invalid(
    where: Literal["query", "body"], name: str, message: str, kind: str = "value_error", *, detail: str | None = None
) -> ApiError:
    """A 422 for the parameter or field `name` (in the URL's query or the body), worded `name: message` unless
    `detail` says it, with the `errors` list every 422 carries (it had none when the server, not pydantic, refused the
    value: a client reading `errors` failed on `?limit=%2B5` where it read `?limit=ten`'s)."""
    error = {"loc": _loc([where, name]), "msg": message, "type": kind}
    return ApiError(422, detail if detail is not None else f"{name}: {message}", errors=[error])


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (400, "Bad request (the library refused the input, or the request carries two different API keys)"),
        (401, "Missing or unknown API key"),
        (404, "No such resource, or not yours"),
        (409, "Conflicts with the resource's state (e.g. an invalid status transition)"),
        (413, "Request body over the size limit, or the user's storage quota reached"),
        (422, "Validation error"),
        (429, "Rate or concurrency limit reached, or too many failed key checks from the address"),
        (500, "Internal error"),
        (503, "The database is unavailable (busy or unreachable): retry after `Retry-After` seconds"),
        (507, "The disk holding the database is full: nothing was written"),
    )
}
"""The error answers every route documents in the OpenAPI schema."""


def status_for(exc: OrchestrateXError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_response(
    status_code: int, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """The error body `{"detail": …, "status_code": …, **extra}`, with any API key in it as `ox_***`: a client that put
    its key where the answer names what it was given (`?ox_…` for `?token=ox_…`, a path) had it back in clear, in a body
    that clients, proxies and browsers' developer tools log."""
    body: dict[str, Any] = {"detail": detail, "status_code": status_code, **extra}
    response = JSONResponse(body, status_code=status_code, headers=dict(headers) if headers else None)
    text = bytes(response.body).decode("utf-8")
    if (hidden := hide_keys(text)) != text:
        response = JSONResponse(json.loads(hidden), status_code=status_code, headers=dict(headers) if headers else None)
    return response


def clipped(text: str, most: int = 40) -> str:
    """The first `most` characters of `text`, given by a client to be named in an error message, with any API key in
    it as `ox_***` first: cut, a key no longer reads as one (`Bearer ox_` and 30 of its characters), and went out."""
    return hide_keys(text[: most + 200])[:most]


def _loc(loc: Any) -> list[Any]:
    """An error's location, each name in it cut as `quoted` cuts (an unknown field may be named by a 5 MB key)."""
    return [p if not isinstance(p, str) or len(p) <= _LONGEST_QUOTED else _cut(p) for p in loc]


def _cut(text: str) -> str:
    return f"{clipped(text, _LONGEST_QUOTED // 2)}… ({len(text)} characters)"


def _field(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": _loc(err["loc"]), "msg": _message(err), "type": err["type"]} for err in exc.errors()]
    if any(err["type"] == "json_invalid" for err in errors):
        return error_response(400, _not_json(exc))
    surrogate = _lone_surrogate(exc)
    if surrogate is not None:
        return error_response(400, surrogate)
    detail = _whole_body(request, errors)
    if detail is None:
        detail = "; ".join(f"{_field(err['loc'])}: {err['msg']}" for err in errors) or "invalid request"
    return error_response(422, detail, errors=errors)


def _not_json(exc: RequestValidationError) -> str:
    """What makes the body no JSON, and where, in the words of Python's parser (as `/v1` says it): "not valid JSON"
    alone left a client to search its body — a prompt of megabytes — for what to fix, such as a line break left
    unescaped in a string (`curl -d` with a multi-line shell variable), which the answer now points to."""
    error = next(err for err in exc.errors() if err["type"] == "json_invalid")
    doc, pos = exc.body, error["loc"][-1]
    reason = str(error.get("ctx", {}).get("error", ""))
    if not isinstance(doc, str) or not isinstance(pos, int) or not reason:
        return "the request body is not valid JSON"
    line = doc.count("\n", 0, pos) + 1
    column = pos - doc.rfind("\n", 0, pos)
    detail = f"the request body is not valid JSON: {reason}: line {line} column {column} (char {pos})"
    if reason.startswith("Invalid control character"):
        detail += "; a line break or tab inside a string is written escaped (\\n, \\t)"
    return detail


def _message(error: Any) -> str:
    """An error's message: a query parameter that is no whole number (`?limit=abc`, `?offset=`) in the words of one
    that is not in plain digits (`?limit=1_0`, refused by the route: `check_page`), not pydantic's "unable to parse
    string as an integer"; else `number_message`."""
    value = error.get("input")
    if error["type"] == "int_parsing" and error["loc"][:1] == ("query",) and isinstance(value, str):
        return f"must be a whole number in plain digits, not {clipped(value)!r}"
    return number_message(error)


def _lone_surrogate(exc: RequestValidationError) -> str | None:
    """The library's refusal of a text holding a lone surrogate (`"\\ud83d"`, half a JSON escape pair: an emoji cut
    in two by a UTF-16 client), for a field pydantic refused as such (one with a length limit: a prompt, an id) or for
    its type (`"max_iterations": "\\ud800"`, which was answered 500), so that it is answered as the library answers it
    for the others (`context`: 400 naming the field and where)."""
    for err in exc.errors():
        if isinstance(err.get("input"), str):
            try:
                check_text(_field(_loc(err["loc"])), err["input"])
            except UserError as refused:
                return refused.message
    return None


def _whole_body(request: Request, errors: list[dict[str, Any]]) -> str | None:
    """What to fix when the body as a whole is refused (FastAPI reads a body as JSON only when the request says
    it is: `curl -d` says `application/x-www-form-urlencoded`), else None."""
    whole = [err for err in errors if tuple(err["loc"]) == ("body",)]
    if not whole:
        return None
    content_type = request.headers.get("content-type", "")
    media = content_type.partition(";")[0].strip().lower()
    if content_type and media != "application/json" and not media.endswith("+json"):
        return f"the request body must be JSON, sent with 'Content-Type: application/json' (not {content_type!r})"
    if whole[0]["type"] == "missing":
        return "the request body is empty: send a JSON object"
    if not content_type:  # (`requests.post(url, data=json.dumps(...))` sends none: the body is not read as JSON)
        return "the request body must be JSON, sent with 'Content-Type: application/json' (the request has none)"
    return "the request body must be a JSON object"


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _FASTAPI_PARSE_ERROR:
        return error_response(400, _unparsable(exc.__cause__))
    if exc.status_code == 404 and exc.detail == "Not Found":  # (an unknown URL: the routes' own 404s say more)
        root = request.scope.get("root_path", "")  # (`base_url` holds it; the routes' paths do not)
        doubled = doubled_slash(request.method, request.url.path.removeprefix(root))
        if doubled is not None:
            return error_response(404, doubled)
        hint = missing_v1(request.url.path.removeprefix(root), str(request.base_url))
        if hint is not None:  # (OpenAI's `error` too: the SDK's exception shows only its message)
            return error_response(404, hint, error=openai_error_object(hint, "not_found"))
        detail = unknown_api_url(request.method, request.url.path.removeprefix(root), request.app.openapi()["paths"])
        if detail is not None:  # (a bare "Not Found" read as "no such record")
            return error_response(404, detail)
    headers = exc.headers
    detail = str(exc.detail)
    if exc.status_code == 405 and headers:
        headers = _with_head(headers)
        allow = next((value for name, value in headers.items() if name.lower() == "allow"), None)
        if allow and detail == "Method Not Allowed":  # (as /v1 says it: most clients show the body alone)
            path = request.url.path.removeprefix(request.scope.get("root_path", ""))
            detail = f"Method Not Allowed: {request.method} is not allowed on {path[:200]}: use {allow}"
            hint = stop_hint(request.method, path) or list_hint(request.method, path, _caller(request))
            if hint is not None:
                detail = f"{detail}; {hint}"
    extra = exc.body_extra() if isinstance(exc, ApiError) else {}
    return error_response(exc.status_code, detail, rate_headers(headers), **extra)


def _caller(request: Request) -> str | None:
    """The user id of the request's key, once authenticated (`/api/` routes: `_auth.principal_of`), else None."""
    principal = request.scope.get("orchestratex.principal")
    return getattr(principal, "user_id", None)


def _with_head(headers: Mapping[str, str]) -> dict[str, str]:
    """A 405's `Allow` with `HEAD` beside `GET`: every `GET` route answers `HEAD` too (`_forms`), but the routes list
    `GET` alone, so `POST /health` said `Allow: GET` of a path a load balancer's `HEAD` check reads fine."""
    fixed = dict(headers)
    for name, value in headers.items():
        if name.lower() == "allow":
            methods = [m.strip() for m in value.split(",") if m.strip()]
            if "GET" in methods and "HEAD" not in methods:
                fixed[name] = ", ".join([*methods, "HEAD"])
    return fixed


_FASTAPI_PARSE_ERROR = "There was an error parsing the body"
"""FastAPI's answer when reading the body as JSON fails otherwise than as invalid JSON (the cause is chained)."""


def _unparsable(cause: BaseException | None) -> str:
    """What to fix in a body that Python's JSON parser could not read although its syntax may be valid."""
    if isinstance(cause, RecursionError):
        return (
            "the request body is nested too deeply: its arrays and objects go past the ~900 levels the server's JSON"
            " parser reads (no request of this API needs more than 3)"
        )
    if isinstance(cause, UnicodeDecodeError):
        byte = cause.object[cause.start]
        return f"the request body is not UTF-8 (byte {byte:#04x} at {cause.start}): send JSON in UTF-8"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return f"the request body holds a number of more than {sys.get_int_max_str_digits()} digits: send a shorter one"
    return "the request body could not be read as JSON: send a JSON object in UTF-8"


RETRY_AFTER_S = 1
"""`Retry-After` of a 503 when the store is unavailable (busy, unreachable)."""
STORE_UNAVAILABLE = f"the database is unavailable (busy or unreachable): retry in {RETRY_AFTER_S} s"
"""The detail of that 503: the store's own message (its host, user or file) goes to the log only."""
DISK_FULL = "the server's disk is full: nothing was written; retry once its operator has freed some space"
"""The detail of the 507 answered when the store cannot write because its disk is full (`StoreFull`)."""


def library_response(exc: OrchestrateXError, method: str, path: str) -> JSONResponse:
    """The answer for a library error. A server-side failure is logged in full and answered without file paths;
    an unavailable store (busy, unreachable) answers 503 with `Retry-After`, one whose disk is full 507 (a retry
    in a second would fail alike: the operator must free space)."""
    status = status_for(exc)
    if status < 500:
        return error_response(status, client_message(exc))
    if isinstance(exc, StoreFull):
        logger.error("%s %s answered 507: %s", method, path, exc.message)
        return error_response(507, DISK_FULL)
    if isinstance(exc, StoreUnavailable):
        logger.warning("%s %s answered 503: %s", method, path, exc.message)
        return error_response(503, STORE_UNAVAILABLE, {"Retry-After": str(RETRY_AFTER_S)})
    logger.error("%s %s failed: %s: %s", method, path, type(exc).__name__, exc.message)
    return error_response(status, without_paths(exc.message))


def client_message(exc: OrchestrateXError) -> str:
    """The library's message for a client: a model name it quotes (from a request's `preferred_models` or `judges`,
    of any length) is cut as `quoted` cuts it."""
    if isinstance(exc, UnknownModelError) and len(exc.name) > _LONGEST_QUOTED:
        return exc.message.replace(repr(exc.name), quoted(exc.name), 1)
    return exc.message


_LONGEST_QUOTED = 80


def quoted(text: str, most: int = _LONGEST_QUOTED) -> str:
    """`text` quoted for an error message, cut past `most` characters (saying how long it was): an answer must not
    echo a 60 KB path segment or field whole."""
    if len(text) <= most:
        return repr(text)
    return f"{clipped(text, most // 2)!r}… ({len(text)} characters)"


def without_paths(text: str) -> str:
    """`text` with every quoted absolute file path replaced by `'<path>'` (for answers to clients)."""
    return _QUOTED_PATH.sub("'<path>'", text)


def public_reason(text: str) -> str:
    """`text` for an answer anyone may read (`/health/ready`): quoted file paths as `'<path>'`, and nothing of a text
    that names a database server's URL — its host, port and user, and the driver's report of its servers (PyMongo's
    topology) — which the server's log keeps."""
    if _URL.search(text):
        return "where and why are in the server's log"
    return without_paths(text)


_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://", re.IGNORECASE)
"""A URL (`mongodb://user:***@db.internal:27017/…`)."""

_QUOTED_PATH = re.compile(r"""(?:'(?:/|[A-Za-z]:\\)[^']*'|"(?:/|[A-Za-z]:\\)[^"]*")""")
"""A quoted absolute file path (a database's location is the server's business, not its clients')."""


async def _library(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OrchestrateXError)
    response = library_response(exc, request.method, request.url.path)
    for name, value in (rate_headers() or {}).items():
        response.headers.setdefault(name, value)
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("%s %s failed unexpectedly", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the one mapping from exceptions to error answers."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(OrchestrateXError, _library)
    app.add_exception_handler(Exception, _unexpected)
