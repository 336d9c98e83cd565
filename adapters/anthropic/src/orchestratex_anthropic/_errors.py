"""The one place where Anthropic SDK exceptions become `orchestratex.exceptions` (as httpx maps httpcore's)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import anthropic
import pydantic

from orchestratex.exceptions import (
    AuthenticationError,
    ContentFiltered,
    ContextLengthExceeded,
    MalformedResponse,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderServerError,
    ProviderTimeout,
    RateLimited,
)
from orchestratex.providers import retry_after_seconds

__all__ = ["map_anthropic_errors", "retry_after_seconds"]

_CONTEXT_PHRASES = ("prompt is too long", "context window", "context length", "too many tokens")
_FILTER_PHRASES = ("content filtering", "output blocked", "usage policy")


_STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
"""The HTTP status each of Anthropic's documented error types is answered with."""


def _status_error(exc: anthropic.APIStatusError, *, provider: str, model: str, api_key_env: str) -> ProviderError:
    status = exc.status_code
    if status < 400:  # an `error` event inside a streamed 200 answer: it stands for the status of its type
        status = _STATUS_OF_TYPE.get(str(getattr(exc, "type", None) or ""), 500)
    headers = dict(exc.response.headers)
    detail = (_api_message(exc) or exc.message) + _path_hint(exc)
    lowered = detail.lower()

    def http(cls: type[ProviderHTTPError], message: str) -> ProviderHTTPError:
        return cls(message, status_code=status, body=exc.body, headers=headers, model=model, provider=provider)

    if status in (401, 403):
        what = "rejected the API key" if status == 401 else "refused access (permission denied)"
        return http(AuthenticationError, f"{provider} {what} ({status}): {detail}; set {api_key_env} to a valid key")
    if status == 429:
        return RateLimited(
            f"{provider} rate limit (429): {detail}",
            retry_after=retry_after_seconds(headers),
            body=exc.body,
            headers=headers,
            model=model,
            provider=provider,
        )
    if status in (400, 413) and any(p in lowered for p in _CONTEXT_PHRASES):
        return http(ContextLengthExceeded, f"{provider} model {model}: prompt too long ({status}): {detail}")
    if status == 400 and any(p in lowered for p in _FILTER_PHRASES):
        return http(ContentFiltered, f"{provider} content filter ({status}): {detail}")
    if status == 408:
        return ProviderTimeout(f"{provider} request timed out (408): {detail}", model=model, provider=provider)
    if status >= 500:  # 500 api_error, 529 overloaded_error, 504 timeout_error; Retry-After honoured as a 429's
        return ProviderServerError(
            f"{provider} server error ({status} {exc.type or ''}): {detail}",
            retry_after=retry_after_seconds(headers),
            status_code=status,
            body=exc.body,
            headers=headers,
            model=model,
            provider=provider,
        )
    return http(ProviderHTTPError, f"{provider} error ({status} {exc.type or ''}): {detail}")


@contextmanager
def map_anthropic_errors(*, provider: str, model: str, api_key_env: str) -> Iterator[None]:
    """Translate every exception the Anthropic SDK (or the response mapping) raises into the OrchestrateX tree.

    `ProviderError`s raised inside the block get `model` and `provider` filled in when missing.
    """
    try:
        yield
    except ProviderError as exc:
        exc.model = exc.model or model
        exc.provider = exc.provider or provider
        raise
    except anthropic.APITimeoutError as exc:
        raise ProviderTimeout(f"{provider} did not answer in time", model=model, provider=provider) from exc
    except anthropic.APIConnectionError as exc:
        raise ProviderConnectionError(
            f"cannot reach {provider}: {exc.__cause__ or exc}", model=model, provider=provider
        ) from exc
    except anthropic.APIStatusError as exc:
        raise _status_error(exc, provider=provider, model=model, api_key_env=api_key_env) from exc
    except (  # UnicodeDecodeError: a body that is not UTF-8
        anthropic.APIResponseValidationError,
        json.JSONDecodeError,
        UnicodeDecodeError,
        pydantic.ValidationError,
    ) as exc:
        raise MalformedResponse(
            f"{provider} answered with a body that is not a valid message: {exc}", model=model, provider=provider
        ) from exc
    except anthropic.AnthropicError as exc:
        raise ProviderError(f"{provider} call failed: {exc}", model=model, provider=provider) from exc


def _path_hint(exc: anthropic.APIStatusError) -> str:
    """For a 404 of a base URL ending in `/v1` (the SDK adds `/v1/messages` itself): what to set instead."""
    url = str(exc.request.url)
    if exc.status_code != 404 or "/v1/v1/" not in url:
        return ""
    return (
        f" ({exc.request.method} {url}: the base URL must not end in /v1, the SDK adds it;"
        " set ANTHROPIC_BASE_URL (or base_url=) without it)"
    )


def _api_message(exc: anthropic.APIStatusError) -> str | None:
    """The error body's `error.message` (`exc.api_message` in newer SDKs, read from the body in older ones)."""
    message = getattr(exc, "api_message", None)
    if isinstance(message, str) and message:
        return message
    body = exc.body
    error = body.get("error") if isinstance(body, dict) else None
    found = error.get("message") if isinstance(error, dict) else None
    return found if isinstance(found, str) else None
