"""Errors of the `/v1` routes in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.

The statuses are OpenAI's: 400 invalid request, 401 invalid key, 404 unknown model or resource,
429 rate or concurrency limit (with `Retry-After`), 5xx server and provider failures. The openai
SDK retries 408, 409, 429 and 5xx answers unless they carry `x-should-retry: false`, which every
answer about an orchestration that ran (and may have spent) carries, so a retry never pays twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import Response

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
from ._errors import DISK_FULL, RETRY_AFTER_S, STORE_UNAVAILABLE, client_message, without_paths

__all__ = ["NO_RETRY", "OpenAIError", "from_exception", "openai_error_response"]

logger = logging.getLogger("orchestratex.server")

NO_RETRY = {"x-should-retry": "false"}
"""Tells the openai SDK not to retry (it honours this header)."""

_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    402: "insufficient_quota",
    403: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "requests",
}


class OpenAIError(Exception):
    """An error answer of the `/v1` routes."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.param = param
        self.code = code
        self.type = type or _TYPES.get(status_code, "server_error")
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        """Top-level fields next to `error` (e.g. `orchestratex`, the orchestration that failed)."""

    def body(self) -> dict[str, Any]:
        error = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        if "orchestratex" in self.extra:  # (inside `error` too: the openai SDK's exception keeps `error` alone as its
            error["orchestratex"] = self.extra["orchestratex"]  # `body`, and a stream's error has nothing else)
        return {"error": error, **self.extra}


def openai_error_response(exc: OpenAIError) -> Response:
    return Response(
        json.dumps(exc.body()),
        status_code=exc.status_code,
        headers=exc.headers or None,
        media_type="application/json",
    )


_LIBRARY: tuple[tuple[type[OrchestrateXError], int, str], ...] = (
    (UnknownModelError, 404, "model_not_found"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (BudgetExceeded, 402, "budget_exceeded"),
    (OrchestrationCancelled, 503, "orchestration_cancelled"),
    (UserError, 400, "invalid_value"),
    (ProviderError, 502, "provider_error"),
    (EvaluationError, 502, "evaluation_failed"),
    (StoreFull, 507, "disk_full"),
    (StoreUnavailable, 503, "store_unavailable"),
    (StoreError, 500, "store_error"),
)


_HTTP_CODES = {401: "invalid_api_key", 404: "not_found", 413: "storage_quota_exceeded", 429: "rate_limit_exceeded"}
"""The codes of the server's own HTTP errors (`ApiError`)."""


def from_exception(exc: Exception) -> OpenAIError:
    """The `/v1` answer for a library or HTTP error (most specific class first)."""
    if isinstance(exc, OpenAIError):
        return exc
    if isinstance(exc, HTTPException):  # the server's own 401/404/429 (ApiError) and Starlette's
        status = exc.status_code
        code = _HTTP_CODES.get(status)
        headers = dict(exc.headers or {})
        if status == 429:
            headers.setdefault("Retry-After", "1")
        return OpenAIError(status, str(exc.detail), code=code, headers=headers)
    if isinstance(exc, OrchestrateXError):
        status, code = next(((s, c) for cls, s, c in _LIBRARY if isinstance(exc, cls)), (500, "internal_error"))
        if isinstance(exc, StoreFull):  # (not retried by the SDK: a retry within seconds fails alike)
            logger.error("/v1 answered 507: %s", exc.message)
            return OpenAIError(507, DISK_FULL, code=code, headers=NO_RETRY)
        if isinstance(exc, StoreUnavailable):  # (as on /api: its message names the database's host or file)
            logger.warning("/v1 answered 503: %s", exc.message)
            return OpenAIError(503, STORE_UNAVAILABLE, code=code, headers={"Retry-After": str(RETRY_AFTER_S)})
        if status >= 500:
            logger.error("/v1 failed: %s: %s", type(exc).__name__, exc.message)
        message = client_message(exc) if status < 500 else without_paths(exc.message)
        return OpenAIError(status, message, code=code, param="model" if isinstance(exc, UnknownModelError) else None)
    return OpenAIError(500, "internal server error", code="internal_error")
