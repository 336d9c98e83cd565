"""The one mapping of a vendor's HTTP error status to the OrchestrateX exception tree, for every adapter.

Each adapter reads its SDK's exception (status, message, body, headers, and what the vendor's own codes say:
a prompt too long, content filtered, …) and `http_error` decides the class, in one order for all:

```
refused key (401, 403 not filtered, or what the adapter
says is one)                                            → AuthenticationError  never retried
429 (quota exhausted, or the request alone over a limit) → ProviderHTTPError    never retried
429                                                     → RateLimited          retried after Retry-After
prompt too long (the adapter says so)                   → ContextLengthExceeded next, larger, model
content filtered (the adapter says so; a 403 too)       → ContentFiltered      next model
404 for the model (the adapter says so)                 → ModelNotFound        next model, never retried
timed out (408 unless the adapter says otherwise)       → ProviderTimeout      retried with backoff
5xx (Anthropic's 529 too), or a server failure the
adapter reads in another status (TGI's 424)             → ProviderServerError  retried, after Retry-After
409 (a conflict, a lock timeout: the SDKs retry it)     → ProviderHTTPError    retried with backoff
any other status (a proxy's 407 says what to set)       → ProviderHTTPError    never retried
```

`connection_error` is the one mapping of a request that got no answer from the vendor: a connection error, retried,
unless the HTTP proxy refused to open the tunnel to the vendor (407: it wants a user and password; 403: it does not
let the host through) or the server's certificate is not trusted (a TLS-inspecting proxy's), which no retry cures.
`unreadable` is the one mapping of an answer the vendor's SDK itself could not read (its own code failing on a body
that is not as the vendor documents it): a `MalformedResponse`, the run going on with the next model.

Whatever the status, an answer carrying `x-should-retry: false` is not retried, and one carrying `x-should-retry:
true` is, as the OpenAI and Anthropic SDKs decide (their own retries are off: the orchestrator retries instead).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from typing import TypeVar, cast

from ..exceptions import (
    AuthenticationError,
    ContentFiltered,
    ContextLengthExceeded,
    MalformedResponse,
    ModelNotFound,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderServerError,
    ProviderTimeout,
    RateLimited,
)
from ._support import retry_after_seconds

__all__ = ["UNREAD", "connection_error", "cut_off", "http_error", "masked_key", "unreadable"]

_E = TypeVar("_E", bound=ProviderError)
_T = TypeVar("_T")

_PROXY_AUTH = (
    "the proxy asks for a user name and password: put them in the proxy's URL, http://USER:PASSWORD@HOST:PORT"
    " (HTTPS_PROXY, or the proxy= of the HTTP client you pass)"
)
"""What to do about a proxy's 407 (Proxy Authentication Required)."""
_PROXY_STATUS = re.compile(r"\A(4\d\d)\b")
"""The status at the start of httpx's words for a proxy that refused the tunnel: "407 Proxy Authentication Required"."""


def http_error(
    status: int,
    detail: str,
    *,
    provider: str,
    model: str,
    api_key_env: str | None,
    body: object = None,
    headers: Mapping[str, str] | None = None,
    label: str = "",
    retry_after: float | None = None,
    refused_key: bool = False,
    key_accepted: bool = False,
    quota_exhausted: bool = False,
    over_limit: bool = False,
    too_long: bool = False,
    filtered: bool = False,
    missing_model: bool = False,
    timed_out: bool | None = None,
    server_failed: bool = False,
    sent_key: str | None = None,
) -> ProviderError:
    """The exception for a vendor's HTTP error `status`, whose message says `detail` (the vendor's words).

    `api_key_env` is the variable a refused key's message says to set (None: a server of one's own, whose key
    the message says to check). `label` is the vendor's error type, shown after the status (`529
    overloaded_error`). `retry_after` is the wait a 429 or 5xx asks for, when the vendor says it elsewhere than
    in the headers (read from `retry-after-ms` or `retry-after` otherwise). The flags are what the adapter read in
    the vendor's codes: `refused_key` (the vendor's code says the API key itself is refused, whatever the status:
    OpenAI's 401 `invalid_api_key`, Anthropic's 401 `authentication_error`, Gemini's 400 `API_KEY_INVALID`; the
    `AuthenticationError` is then `key_rejected`, and the run asks none of the provider's other models),
    `key_accepted` (a 403 that is not about the key: OpenAI's for a country it does not serve,
    `unsupported_country_region_territory`, or a model the key's project may not use, `model_not_found`),
    `quota_exhausted` (a 429 that waiting will not cure), `over_limit` (a 429 for a request larger by itself than a
    per-minute limit, as OpenAI's "Request too large for gpt-4o … on tokens per min (TPM): Limit 30000, Requested
    36278": every attempt gets it), `too_long` (the prompt does not fit the model's context), `filtered` (blocked by
    the vendor's safety system), `missing_model` (a 404 saying the server does not serve the model: an Ollama model
    not pulled, "model \"llama3.2\" not found, try pulling it first"), `timed_out` (the default: the status is 408),
    `server_failed` (the server failed while answering, under a status below 500: Hugging Face TGI's 424 for an error
    of its model's shards, a CUDA out-of-memory say). `sent_key` is the API key the request carried: wherever the
    vendor's answer quotes it (a gateway's "Incorrect API key provided: sk-…"), `detail` and `body` show `***` in its
    place, as the error's message goes to logs, stored runs and the server's answers to its API users.
    """
    detail, body = masked_key(detail, sent_key), masked_key(body, sent_key)
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    shown = f"{status} {label}" if label else str(status)

    def http(cls: type[ProviderHTTPError], message: str, **extra: object) -> ProviderHTTPError:
        exc = cls(message, status_code=status, body=body, headers=headers, model=model, provider=provider, **extra)
        return _unless_told_not_to_retry(exc, headers)

    def wait() -> float | None:
        return retry_after if retry_after is not None else retry_after_seconds(headers)

    if (status in (401, 403) and not filtered and not key_accepted) or refused_key:  # (OpenRouter: a flagged input)
        what = "refused access (permission denied)" if status == 403 else "rejected the API key"
        hint = f"set {api_key_env} to a valid key" if api_key_env else "check the server's API key"
        message = f"{provider} {what} ({status}): {detail}; {hint}"
        return http(AuthenticationError, message, key_rejected=True if refused_key else None)
    if status == 429:
        if quota_exhausted or over_limit:
            what = "quota exhausted" if quota_exhausted else "request larger than its rate limit allows"
            return http(ProviderHTTPError, f"{provider} {what} (429): {detail}")
        return http(RateLimited, f"{provider} rate limit (429): {detail}", retry_after=wait())
    said: tuple[tuple[bool, type[ProviderHTTPError], str], ...] = (
        (too_long, ContextLengthExceeded, f"model {model}: prompt too long"),
        (filtered, ContentFiltered, "content filter"),
        (missing_model and status == 404, ModelNotFound, f"does not serve the model {model}"),
    )
    for flagged, cls, what in said:  # (what the adapter read in the vendor's codes)
        if flagged:
            return http(cls, f"{provider} {what} ({status}): {detail}")
    if (status == 408) if timed_out is None else timed_out:
        timeout = ProviderTimeout(f"{provider} request timed out ({shown}): {detail}", model=model, provider=provider)
        return _unless_told_not_to_retry(timeout, headers)  # (a 408, a 504 saying so: retried unless told not to)
    if status >= 500 or server_failed:
        return http(ProviderServerError, f"{provider} server error ({shown}): {detail}", retry_after=wait())
    if status == 407:  # (an HTTP proxy in front of a plain-HTTP server: the proxy's page, not the vendor's error)
        return http(ProviderHTTPError, f"{provider}: the proxy refused the request ({shown}): {detail}; {_PROXY_AUTH}")
    error = http(ProviderHTTPError, f"{provider} error ({shown}): {detail}")
    if status == 409 and headers.get("x-should-retry", "").strip().lower() != "false":
        error.retryable = True  # (a conflict, a lock timeout: passing, as the OpenAI and Anthropic SDKs retry it)
    return error


_MASKED_KEY_MIN = 12
"""The shortest key `http_error` masks: a local server's placeholder (`ollama`, `EMPTY`) is no secret, and masking such
a word would garble the vendor's message."""


def masked_key(said: _T, key: str | None) -> _T:
    """`said` (a vendor's message, or its error body as parsed JSON or text) with `key` replaced by `***` in each of its
    strings; as it is when `key` is None or shorter than `_MASKED_KEY_MIN`."""
    if key is None or len(key) < _MASKED_KEY_MIN:
        return said
    if isinstance(said, str):
        return cast(_T, said.replace(key, "***"))
    if isinstance(said, Mapping):
        return cast(_T, {k: masked_key(v, key) for k, v in said.items()})
    if isinstance(said, list):
        return cast(_T, [masked_key(v, key) for v in said])
    return said


def connection_error(
    reason: object, *, provider: str, model: str, proxy: bool = False, at: str = "", url: str | None = None
) -> ProviderConnectionError:
    """The error of a request that got no answer from `provider`: the HTTP library's `reason` (a refused connection, a
    failed DNS lookup, a reset) is a `ProviderConnectionError`, retried with backoff. `proxy` says `reason` is the HTTP
    proxy's refusal to open the tunnel (httpx's `ProxyError`, "407 Proxy Authentication Required"): refused with a
    4xx, no retry cures it (407: it wants a user and password; 403: it does not let the vendor's host through), so it
    is not retried, and says what to do. (It was retried as a connection error, then every other model, each saying
    only "cannot reach …: 407 Proxy Authentication Required".) `at` follows the provider's name in the message (` at
    <base URL>`, for a server the user pointed the provider at)."""
    said = _SSL_CONTEXT.sub("", str(reason))
    if _untrusted(reason):
        error = ProviderConnectionError(
            f"cannot reach {provider}: its server's certificate is not trusted here ({said}); if a TLS-inspecting proxy"
            " or a private CA signs it, set SSL_CERT_FILE to a CA bundle (PEM) holding that CA",
            model=model,
            provider=provider,
        )
        error.retryable = False  # (no retry makes a certificate trusted: it was retried on every model)
        return error
    if type(reason).__name__ == "TooManyRedirects":  # (httpx's, aiohttp's: a redirect loop, no retry ends it)
        error = ProviderConnectionError(
            f"{provider}{at} redirected the request again and again ({said}): a redirect loop, which retrying would"
            " only repeat; check the base URL (its scheme, host and path, as the server expects them)",
            model=model,
            provider=provider,
        )
        error.retryable = False
        return error
    refused = _PROXY_STATUS.match(said) if proxy else None
    if refused is None and _dropped(reason, said):  # (it was reached: "cannot reach" read as it being down)
        detail = said.strip() or f"{type(reason).__name__}, no reason given"
        return ProviderConnectionError(
            f"the connection to {provider}{at} was closed before its answer came ({detail}): the server, or a proxy"
            " or load balancer before it, dropped the request (a crash or a restart of the server, say)",
            model=model,
            provider=provider,
        )
    if refused is None and _cut_mid_body(reason):  # (the server answered: "cannot reach" read as it being down)
        return ProviderConnectionError(
            f"the connection to {provider}{at} broke while its answer was read: {said}", model=model, provider=provider
        )
    if refused is None:
        through = _through_a_proxy(url) if url else ""
        return ProviderConnectionError(f"cannot reach {provider}{at}: {said}{through}", model=model, provider=provider)
    hint = (
        _PROXY_AUTH
        if refused.group(1) == "407"
        else "the proxy does not let requests through to the provider's server: ask its administrator to allow the"
        " host, or list it in NO_PROXY if it can be reached without the proxy"
    )
    error = ProviderConnectionError(
        f"cannot reach {provider}{at}: the proxy refused the connection ({said}); {hint}",
        model=model,
        provider=provider,
    )
    error.retryable = False
    return error


_SSL_CONTEXT = re.compile(r" ssl:<ssl\.SSLContext object at 0x[0-9a-fA-F]+>")
"""What aiohttp's words for a connection that failed say of the TLS context google-genai passes it ("Cannot connect to
host … ssl:<ssl.SSLContext object at 0x7f6b5ce55400> [Connect call failed …]"): a memory address, different in every
error, which told the user nothing (left out)."""

_LOCAL = ("localhost", "127.0.0.1", "::1")


def _through_a_proxy(url: str) -> str:
    """What a connection error to `url` (the request's) should add when the environment's proxy carried the request
    (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, not bypassed by `NO_PROXY`, as httpx reads them): the proxy it went
    through, and for a server on this machine (`OLLAMA_BASE_URL=http://localhost:11434/v1` with a corporate
    `HTTP_PROXY`) that such a server is reached without it. It said "cannot reach ollama: All connection attempts
    failed" of a server that was running, the proxy being what could not be reached or could not reach it."""
    from urllib.parse import urlsplit

    from ._support import shown_url

    found = environment_proxy(url)
    if found is None:
        return ""
    var, proxy = found
    host = urlsplit(url).hostname or ""
    said = f" (through the proxy {var}={shown_url(proxy)!r}"
    if host in _LOCAL or host.startswith("127."):
        return f"{said}: a server on this machine is reached without it, add {host} to NO_PROXY)"
    return f"{said})"


def environment_proxy(url: str) -> tuple[str, str] | None:
    """The proxy the environment names for a request to `url`, as httpx reads it: `HTTPS_PROXY` (or `HTTP_PROXY`, by
    the URL's scheme), else `ALL_PROXY`, unless `NO_PROXY` bypasses them for the URL as httpx matches its entries (a
    port, an IP network, `*.example.com`: `orchestratex.providers._proxies`); as (the variable, the proxy's URL), or
    None."""
    import os
    from urllib.request import getproxies

    from ._proxies import proxy_for

    proxies = getproxies()
    scheme = proxy_for(url, proxies)
    if scheme is None:
        return None
    var = next((k for k, v in os.environ.items() if k.lower() == f"{scheme}_proxy" and v), f"{scheme.upper()}_PROXY")
    return var, proxies[scheme]


_MID_BODY = "peer closed connection without sending complete message body"
"""httpx's words for a connection closed after the answer's status, before the end of its body."""


UNREAD = (TypeError, AttributeError, KeyError, IndexError)
"""What an SDK's own code raises reading an answer that is not as its vendor documents it: a stream's text delta for
a content block no `content_block_start` opened (Anthropic's SDK: IndexError), an error chunk without a numeric
`code` (google-genai: TypeError), as gateways translating another vendor's API send them."""


def unreadable(exc: BaseException, package: str, *, provider: str, model: str) -> MalformedResponse | None:
    """The error of an answer the vendor's SDK (the top-level module `package`) could not read: `exc`, one of `UNREAD`,
    raised by the SDK's own code (its innermost frame is in `package`). It came out of `Orchestrator.run` itself, the
    run failed, no other model tried. None when `exc` was raised elsewhere (the adapter's code, the caller's
    `on_text`): a bug to raise as it is."""
    tb = exc.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = str(tb.tb_frame.f_globals.get("__name__", ""))
    if module != package and not module.startswith(f"{package}."):
        return None
    return MalformedResponse(
        f"{provider} answered with something its SDK ({package}) could not read, not as the API documents its answers"
        f" (a gateway's translation?): {type(exc).__name__}: {exc}",
        model=model,
        provider=provider,
    )


_DROPPED = frozenset({"ReadError", "WriteError"})
_NO_ANSWER = ("Server disconnected without sending a response", "Server disconnected")
"""httpx's and aiohttp's words for a connection closed by the server once it had the request, before any answer."""
_RESET = "Connection reset by peer"
"""The reason of aiohttp's `ClientOSError` for a connection the server reset."""


def _dropped(reason: object, said: str) -> bool:
    """Whether `reason` is a connection made, then closed or reset by the other end before any answer came (a server
    crashing as it loads a model, a load balancer's reset): httpx's `ReadError` or `WriteError` without a message of
    their own, its `RemoteProtocolError` or aiohttp's `ServerDisconnectedError` saying the server disconnected, or
    aiohttp's `ClientOSError` of a reset. They
    were said as "cannot reach ollama at …: " (and nothing more, for a reset), though the server had been reached."""
    if not said.strip():
        return type(reason).__name__ in _DROPPED
    return said.startswith(_NO_ANSWER) or (type(reason).__name__ == "ClientOSError" and _RESET in said)


def _cut_mid_body(reason: object) -> bool:
    """Whether `reason` is a connection closed once the server had answered, while its body was read (httpx's
    `RemoteProtocolError`, aiohttp's `ClientPayloadError`)."""
    return str(reason).startswith(_MID_BODY) or type(reason).__name__ == "ClientPayloadError"


def _untrusted(reason: object) -> bool:
    """Whether `reason` (an exception) comes of a server certificate that could not be verified (`ssl`'s
    `SSLCertVerificationError`, wrapped by the HTTP library)."""
    seen: set[int] = set()
    exc = reason if isinstance(reason, BaseException) else None
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _unless_told_not_to_retry(exc: _E, headers: Mapping[str, str]) -> _E:
    """`exc` as the answer's `x-should-retry` header says, whatever its status: with `false` (a 429, a 5xx) not
    retryable, as the OpenAI and Anthropic SDKs honour it and OrchestrateX's own `/v1` sends it with every answer about
    a run that may have spent; with `true` (a 4xx the server knows to be passing) retryable, as those SDKs retry it.
    The exception keeps its class and says why; a refused one makes the run fall back to another model."""
    told = headers.get("x-should-retry", "").strip().lower()
    if exc.retryable and told == "false":
        exc.retryable = False  # (the server knows a retry fails again, or pays twice)
        exc.message = f"{exc.message} (not retried: the server answered x-should-retry: false)"
        exc.args = (exc.message,)
    elif not exc.retryable and told == "true":
        exc.retryable = True  # (the SDKs, whose own retries are off, would have retried it)
        exc.message = f"{exc.message} (retried: the server answered x-should-retry: true)"
        exc.args = (exc.message,)
    return exc


def cut_off(*, provider: str, model: str, at: str) -> ProviderConnectionError:
    """The error of a call whose connection its own provider's `aclose()` closed while it was under way."""
    error = ProviderConnectionError(
        f"the call to {provider}{at} was cut off by the provider's own aclose(), which closed its connection while"
        " the call was under way",
        model=model,
        provider=provider,
    )
    error.retryable = False  # (closed on purpose: the caller is done with the provider)
    return error
