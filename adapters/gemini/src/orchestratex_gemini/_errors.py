"""The one place where google-genai and HTTP exceptions become `orchestratex.exceptions` (as httpx maps httpcore's).

The google-genai SDK raises `errors.ClientError`/`errors.ServerError` for HTTP errors and lets the
HTTP library's own timeouts and connection errors through, so both httpx2's and httpx's are mapped, and aiohttp's:
with aiohttp installed (google-genai's `aiohttp` extra, or any package needing it), the SDK sends a client's calls
through it rather than httpx.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pydantic
from google.genai import errors

from orchestratex.exceptions import MalformedResponse, ProviderError, ProviderTimeout
from orchestratex.providers import http_error
from orchestratex.providers import retry_after_seconds as header_retry_after
from orchestratex.providers._http_errors import UNREAD, connection_error, cut_off, masked_key, unreadable
from orchestratex.providers._support import not_json, one_line, shown_url

try:
    import httpx
except ImportError:  # pragma: no cover - httpx is optional for the SDK
    httpx = None  # type: ignore[assignment]

__all__ = ["map_gemini_errors", "retry_after_seconds"]

try:
    import aiohttp  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # (the SDK then sends through httpx)
    aiohttp = None  # type: ignore[assignment, unused-ignore]  # (a module when aiohttp is installed)

_TIMEOUTS: tuple[type[BaseException], ...] = (
    (httpx2.TimeoutException,)
    + ((httpx.TimeoutException,) if httpx else ())
    + ((aiohttp.ServerTimeoutError, TimeoutError) if aiohttp else ())  # (its `ClientTimeout(total=…)`: TimeoutError)
)
_TRANSPORT: tuple[type[BaseException], ...] = (
    # (refused, reset, closed mid-body; a redirect loop, a body whose gzip is broken: not transport errors but the
    # request's all the same, which google-genai lets through raw, and the run failed with them, no other model tried)
    (httpx2.RequestError,) + ((httpx.RequestError,) if httpx else ()) + ((aiohttp.ClientError,) if aiohttp else ())
)
_PROXY: tuple[type[BaseException], ...] = (
    (httpx2.ProxyError,) + ((httpx.ProxyError,) if httpx else ()) + ((aiohttp.ClientHttpProxyError,) if aiohttp else ())
)
_UNPARSED: tuple[type[BaseException], ...] = tuple(
    error for error in (getattr(errors, "UnknownApiResponseError", None),) if isinstance(error, type)
)
"""What google-genai raises for a streamed chunk that is not JSON (a proxy's HTML page, a gateway's `[DONE]`, a line
cut by a reset connection), where it raises `json.JSONDecodeError` for an unstreamed body."""
_MALFORMED: tuple[type[BaseException], ...] = (json.JSONDecodeError, pydantic.ValidationError, *_UNPARSED)
_CONTEXT_PHRASES = ("exceeds the maximum number of tokens", "input token count", "context length", "too long")
_AUTH_REASONS = ("API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED")
_NO_QUOTA = re.compile(r"\blimit: 0(?![\d.])")
"""A 429's words for a quota of none (no free tier for the model on the key's plan): "…, limit: 0, model: …"."""


def _request_url(exc: BaseException) -> str | None:
    """The URL of the request an HTTP library's error is about, when it knows it."""
    try:
        request = exc.request  # type: ignore[attr-defined]  # (httpx: a property raising when there is none)
    except (AttributeError, RuntimeError):
        return None
    return str(request.url)


def _seconds(value: str) -> float | None:
    try:
        seconds = float(value.removesuffix("s"))
    except ValueError:
        return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def retry_after_seconds(headers: Mapping[str, str], body: Any = None) -> float | None:
    """Seconds to wait: `retry-after-ms`, `retry-after` (seconds or HTTP date), or the body's `RetryInfo.retryDelay`."""
    from_headers = header_retry_after(headers)
    if from_headers is not None:
        return from_headers
    for detail in _details(body):
        delay = detail.get("retryDelay")
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo") and isinstance(delay, str):
            return _seconds(delay)
    return None


def _details(body: Any) -> list[dict[str, Any]]:
    error = body.get("error", body) if isinstance(body, Mapping) else None
    details = error.get("details") if isinstance(error, Mapping) else None
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _quota_exhausted(body: Any, message: str) -> bool:
    """Whether a 429 is one that waiting cannot cure: a daily quota spent (a `google.rpc.QuotaFailure` violation whose
    `quotaId` is per day, `GenerateRequestsPerDayPerProjectPerModel-FreeTier`), or a model the key's plan gives no
    quota at all (`limit: 0`). Its `RetryInfo` still says to retry in a few seconds."""
    for detail in _details(body):
        if str(detail.get("@type", "")).endswith("google.rpc.QuotaFailure"):
            violations = detail.get("violations")
            for violation in violations if isinstance(violations, list) else ():
                if isinstance(violation, dict) and "PerDay" in str(violation.get("quotaId", "")):
                    return True
    return bool(_NO_QUOTA.search(message))


_BODY_SHOWN = 300
"""How much of an error body that is not Google's error (a gateway's `{"detail": ...}`) the message shows."""
_TWO_VERSIONS = re.compile(r"/(v1(?:alpha|beta)?)/(v1(?:alpha|beta)?)/")
"""A request path holding two API versions: a base URL ending in one (`…/v1beta`), to which the SDK added its own."""


def _detail(exc: errors.APIError, api_key: str | None = None) -> str:
    """The error's status and message; for a body without Google's `message` (a gateway's `{"detail": "Not Found"}`,
    for which google-genai reads none), the body itself, cut to 300 characters, `api_key` masked before the cut (a
    key the cut went through was left half shown)."""
    if _not_json(exc):  # (a proxy's HTML page: on one line, cut, not its thousands of characters as they came)
        return f"{exc.status or ''} {one_line(masked_key(str(exc.message), api_key), _BODY_SHOWN)}".strip()
    detail = f"{exc.status or ''} {exc.message or ''}".strip()
    if exc.message or not exc.details:
        return detail
    try:
        shown = json.dumps(exc.details, ensure_ascii=False, default=str)
    except ValueError:
        shown = str(exc.details)
    shown = masked_key(shown, api_key)
    cut = shown if len(shown) <= _BODY_SHOWN else shown[: _BODY_SHOWN - 1] + "…"
    return f"{detail} {cut}".strip()


def _not_json(exc: errors.APIError) -> bool:
    """Whether the error's body was not JSON (a proxy's or load balancer's HTML page, a plain text): google-genai then
    stands `{"message": <the body>, "status": <the reason phrase>}` for it, Google's own errors being
    `{"error": {...}}`."""
    details = exc.details
    response = getattr(exc, "response", None)
    reason = getattr(response, "reason_phrase", None) or getattr(response, "reason", None)  # (httpx's, aiohttp's)
    return (
        isinstance(details, dict)
        and set(details) == {"message", "status"}
        and isinstance(details["message"], str)
        and details["status"] == reason
    )


def _request_line(exc: errors.APIError) -> tuple[str, str] | None:
    """The method and URL of the request an error answers: httpx's response holds its `request`, aiohttp's its
    `request_info` (through which google-genai sends when aiohttp is installed)."""
    response = getattr(exc, "response", None)
    request = getattr(response, "request", None) or getattr(response, "request_info", None)
    if request is None:
        return None
    return str(request.method), str(request.url)


def _path_hint(exc: errors.APIError) -> str:
    """For a 404 that is not Google's own error (a model not found, …) but a server's "no such page": the URL tried,
    and, when its path holds two API versions, that the base URL must not end in one."""
    request = _request_line(exc)
    if exc.code != 404 or exc.status == "NOT_FOUND" or request is None:
        return ""
    method, sent_to = request
    url = shown_url(sent_to)  # (no password or key of the base URL in a stored error)
    doubled = _TWO_VERSIONS.search(urlsplit(sent_to).path)
    if doubled:
        return (
            f" ({method} {url} not found: the base URL must not end in /{doubled.group(1)}, the SDK adds the"
            " API version; set GOOGLE_GEMINI_BASE_URL (or base_url=) without it)"
        )
    return f" ({method} {url} not found: check the base URL)"


def _status_error(
    exc: errors.APIError, *, provider: str, model: str, api_key_env: str, api_key: str | None
) -> ProviderError:
    status = int(exc.code or 0)
    response = getattr(exc, "response", None)
    headers = {k.lower(): v for k, v in response.headers.items()} if response is not None else {}
    body = exc.details
    detail = _detail(exc, api_key) + _path_hint(exc)
    reasons = {str(d.get("reason")) for d in _details(body)}
    return http_error(
        status,
        detail,
        provider=provider,
        model=model,
        api_key_env=api_key_env,
        body=body,
        headers=headers,
        retry_after=retry_after_seconds(headers, body),
        refused_key=bool(reasons & set(_AUTH_REASONS)),  # Gemini answers a bad key 400 API_KEY_INVALID
        quota_exhausted=status == 429 and _quota_exhausted(body, exc.message or ""),
        too_long=status in (400, 413) and any(p in (exc.message or "").lower() for p in _CONTEXT_PHRASES),
        # (a model Google does not serve, retired or mistyped: "models/gemini-1.0-pro is not found for API version …")
        missing_model=status == 404 and exc.status == "NOT_FOUND" and "not found" in (exc.message or "").lower(),
        # (a 408 is a timeout, a proxy's or a load balancer's too, unless Google's status says the call was cancelled)
        timed_out=(status == 504 and exc.status == "DEADLINE_EXCEEDED")
        or (status == 408 and exc.status != "CANCELLED"),
        sent_key=api_key,
    )


@contextmanager
def map_gemini_errors(
    *,
    provider: str,
    model: str,
    api_key_env: str,
    at: str = "",
    api_key: str | None = None,
    closed: Callable[[], bool] | None = None,
    base_url: str | None = None,
) -> Iterator[None]:
    """Translate every exception google-genai (or the response mapping) raises into the OrchestrateX tree.

    `ProviderError`s raised inside the block get `model` and `provider` filled in when missing. `at` follows the
    provider's name in the message of a server that cannot be reached or does not answer in time (` at <base URL>`,
    for a gateway or proxy `GOOGLE_GEMINI_BASE_URL` names: "cannot reach gemini" read as Google's API being down).
    Where an error answer quotes `api_key` (the key the calls carry, as a gateway may), the error shows `***` instead.
    A connection lost once `closed()` says the provider's own `aclose()` closed its client is said so, not retried.
    `base_url` stands for the request's URL where the HTTP library's error does not carry it (aiohttp's), so that a
    connection error names the proxy the request went through.
    """
    try:
        yield
    except ProviderError as exc:
        exc.model = exc.model or model
        exc.provider = exc.provider or provider
        raise
    except errors.APIError as exc:
        raise _status_error(exc, provider=provider, model=model, api_key_env=api_key_env, api_key=api_key) from exc
    except _TIMEOUTS as exc:
        raise ProviderTimeout(f"{provider}{at} did not answer in time", model=model, provider=provider) from exc
    except _TRANSPORT as exc:
        if closed is not None and closed():
            raise cut_off(provider=provider, model=model, at=at) from exc
        proxy = isinstance(exc, _PROXY)
        url = _request_url(exc) or base_url
        raise connection_error(exc, provider=provider, model=model, proxy=proxy, at=at, url=url) from exc
    except UnicodeDecodeError as exc:  # google-genai reads a 200 leniently but an error's body strictly
        raise MalformedResponse(
            f"{provider} answered an HTTP error whose body is not UTF-8 (google-genai reads neither it nor its"
            f" status): {exc}",
            model=model,
            provider=provider,
        ) from exc
    except json.JSONDecodeError as exc:
        if exc.doc.lstrip()[:1] in ("{", "["):  # (JSON cut short, or not quite JSON: said as any malformed body)
            raise _malformed(exc, provider=provider, model=model) from exc
        # (a 200 whose body is not JSON at all: a web page at the base URL, a captive portal's or a proxy's page)
        raise MalformedResponse(f"{provider}: {not_json(exc.doc)}", model=model, provider=provider) from exc
    except _MALFORMED as exc:
        raise _malformed(exc, provider=provider, model=model) from exc
    except (
        UNREAD
    ) as exc:  # (google-genai's own code failing on an answer not as documented: an error chunk without code)
        unread = unreadable(exc, "google.genai", provider=provider, model=model)
        if unread is None:
            raise
        raise unread from exc


def _malformed(exc: BaseException, *, provider: str, model: str) -> MalformedResponse:
    """The error of a body (or a streamed chunk) that is not a valid response, quoting what was wrong with it."""
    said = " ".join(str(exc).split())  # (a streamed chunk's raw text is quoted: a proxy's whole HTML page, say)
    said = said if len(said) <= _BODY_SHOWN else said[: _BODY_SHOWN - 1] + "…"
    return MalformedResponse(
        f"{provider} answered with a body that is not a valid response: {said}", model=model, provider=provider
    )
