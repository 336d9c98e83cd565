"""The one place where Anthropic SDK exceptions become `orchestratex.exceptions` (as httpx maps httpcore's)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anthropic
import httpx2
import pydantic

from orchestratex.exceptions import MalformedResponse, ProviderError, ProviderTimeout
from orchestratex.providers import http_error, retry_after_seconds
from orchestratex.providers._http_errors import UNREAD, connection_error, cut_off, masked_key, unreadable
from orchestratex.providers._support import one_line, shown_url

__all__ = ["map_anthropic_errors", "retry_after_seconds"]

_CONTEXT_PHRASES = ("prompt is too long", "context window", "context length", "context limit", "too many tokens")
"""How Anthropic says a request does not fit the model's context: "prompt is too long: 215378 tokens > 200000 maximum",
"input length and `max_tokens` exceed context limit: 178959 + 64000 > 200000, decrease input length or `max_tokens`"."""
_FILTER_PHRASES = ("content filtering", "output blocked", "usage policy")
_MISSING_MODEL = "model: "
"""How Anthropic's 404 `not_found_error` for a model it does not serve (retired, mistyped) begins: "model:
claude-3-7-sonnet-latest"."""


_STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
"""The HTTP status each of Anthropic's documented error types is answered with."""


def _status_error(
    exc: anthropic.APIStatusError, *, provider: str, model: str, api_key_env: str, api_key: str | None
) -> ProviderError:
    status = exc.status_code
    if status < 400:  # an `error` event inside a streamed 200 answer: it stands for the status of its type
        status = _STATUS_OF_TYPE.get(str(getattr(exc, "type", None) or ""), 500)
    headers = dict(exc.response.headers)
    detail = (_api_message(exc) or _quoted(exc, api_key)) + _path_hint(exc)
    lowered = detail.lower()
    label = str(getattr(exc, "type", None) or "")
    return http_error(
        status,
        detail,
        provider=provider,
        model=model,
        api_key_env=api_key_env,
        body=exc.body,
        headers=headers,
        label=label,  # 529 overloaded_error, 500 api_error, 504 timeout_error, …
        refused_key=status == 401 and label == "authentication_error",
        too_long=status in (400, 413) and any(p in lowered for p in _CONTEXT_PHRASES),
        filtered=status == 400 and any(p in lowered for p in _FILTER_PHRASES),
        missing_model=status == 404 and lowered.startswith(_MISSING_MODEL),
        sent_key=api_key,
    )


@contextmanager
def map_anthropic_errors(
    *,
    provider: str,
    model: str,
    api_key_env: str,
    at: str = "",
    api_key: str | None = None,
    closed: Callable[[], bool] | None = None,
) -> Iterator[None]:
    """Translate every exception the Anthropic SDK (or the response mapping) raises into the OrchestrateX tree.

    `ProviderError`s raised inside the block get `model` and `provider` filled in when missing. `at` follows the
    provider's name in the message of a server that cannot be reached or does not answer in time (` at <base URL>`,
    for a gateway or proxy `ANTHROPIC_BASE_URL` names: "cannot reach anthropic" read as Anthropic's API being down).
    Where an error answer quotes `api_key` (the key the calls carry, as a gateway may), the error shows `***` instead.
    A connection lost once `closed()` says the provider's own `aclose()` closed its client is said so, not retried.
    """
    try:
        yield
    except ProviderError as exc:
        exc.model = exc.model or model
        exc.provider = exc.provider or provider
        raise
    except anthropic.APITimeoutError as exc:
        raise ProviderTimeout(f"{provider}{at} did not answer in time", model=model, provider=provider) from exc
    except anthropic.APIConnectionError as exc:
        if closed is not None and closed():
            raise cut_off(provider=provider, model=model, at=at) from exc
        cause = exc.__cause__ or exc
        proxy = isinstance(cause, httpx2.ProxyError)
        url = str(exc.request.url)  # (the request's: through a proxy or not)
        raise connection_error(cause, provider=provider, model=model, proxy=proxy, at=at, url=url) from exc
    except anthropic.APIStatusError as exc:
        raise _status_error(exc, provider=provider, model=model, api_key_env=api_key_env, api_key=api_key) from exc
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
    except UNREAD as exc:  # (the SDK's own code failing on a stream not as documented: a gateway's translation)
        unread = unreadable(exc, "anthropic", provider=provider, model=model)
        if unread is None:
            raise
        raise unread from exc


def _path_hint(exc: anthropic.APIStatusError) -> str:
    """For a 404 of a base URL ending in `/v1` (the SDK adds `/v1/messages` itself): what to set instead."""
    url = shown_url(str(exc.request.url))  # (no password or key of the base URL in a stored error)
    if exc.status_code != 404 or "/v1/v1/" not in url:
        return ""
    return (
        f" ({exc.request.method} {url}: the base URL must not end in /v1, the SDK adds it;"
        " set ANTHROPIC_BASE_URL (or base_url=) without it)"
    )


def _quoted(exc: anthropic.APIStatusError, api_key: str | None = None) -> str:
    """What an error body that is not Anthropic's JSON says (a proxy's HTML page, a gateway's text or JSON): its status
    and the body on one line, cut to 300 characters (`one_line`), as the SDK's message quotes it whole; `api_key`
    masked before the cut (a key the cut went through was left half shown)."""
    body = masked_key(exc.body, api_key)
    path = _SDK_PATH.search(exc.message)  # (the request's path, as the SDK adds it)
    where = path.group(0) if path else ""
    if isinstance(body, str) and body.strip():
        return f"{exc.status_code} {one_line(body)}{where}"
    if isinstance(body, dict) and body:
        return f"{exc.status_code} {one_line(json.dumps(body, ensure_ascii=False, default=str))}{where}"
    return one_line(masked_key(exc.message, api_key))


_SDK_PATH = re.compile(r" \(path: [^()\s]*\)\Z")
"""How the SDK's message of an error ends: " (path: /v1/messages)"."""


def _api_message(exc: anthropic.APIStatusError) -> str | None:
    """The error body's `error.message` (`exc.api_message` in newer SDKs, read from the body in older ones)."""
    message = getattr(exc, "api_message", None)
    if isinstance(message, str) and message:
        return message
    body = exc.body
    error = body.get("error") if isinstance(body, dict) else None
    found = error.get("message") if isinstance(error, dict) else None
    return found if isinstance(found, str) else None
