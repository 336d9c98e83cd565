"""The one place where OpenAI SDK exceptions become `orchestratex.exceptions` (as httpx maps httpcore's)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import httpx2
import openai
import pydantic

from orchestratex.exceptions import MalformedResponse, ProviderError, ProviderTimeout
from orchestratex.providers import http_error, retry_after_seconds
from orchestratex.providers._http_errors import UNREAD, connection_error, cut_off, masked_key, unreadable
from orchestratex.providers._support import shown_url

__all__ = ["ErrorInAnswer", "answer_error", "map_openai_errors", "read_by_the_sdk", "retry_after_seconds"]

_CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
_CONTEXT_PHRASES = (
    "maximum context length",
    "context length",
    "context window",
    "too many tokens",
    "maximum prompt length",  # xAI's ("This model's maximum prompt length is 131072 but the request contains …")
    "prompt is too long",  # Anthropic's OpenAI compatibility ("prompt is too long: 215378 tokens > 200000 maximum")
    "context limit",  # (and "input length and `max_tokens` exceed context limit: …")
    "input token count",  # Gemini's ("The input token count (…) exceeds the maximum number of tokens allowed (…).")
)
"""How servers say, with a 400 or 413 and no code of OpenAI's, that the prompt does not fit the model's context."""
_CONTEXT_TYPES = frozenset({"exceed_context_size_error"})  # llama.cpp's llama-server (400, older builds 500)
_CONTEXT_SIZE_PHRASES = (
    "exceeds the available context size",  # llama.cpp, any status
    "context size has been exceeded",
    "`inputs` tokens + `max_new_tokens` must be <=",  # Hugging Face TGI's validation errors (422)
    "`inputs` must have less than",
)
_FILTER_CODES = frozenset({"content_filter", "content_policy_violation", "invalid_prompt"})
_NOT_THE_KEY = frozenset({"unsupported_country_region_territory", "model_not_found"})
"""Codes of OpenAI's 403s that are not about the key: "Country, region, or territory not supported" (where the request
comes from), "Project `proj_…` does not have access to model `o3-pro`" (a model the key's project may not use)."""
_OVER_LIMIT = "Request too large for"
"""How OpenAI begins a 429 for a request larger by itself than a per-minute limit ("Request too large for gpt-4o in
organization org-… on tokens per min (TPM): Limit 30000, Requested 36278. The input or output tokens must be reduced
in order to run successfully."): waiting does not help, every attempt gets it."""
_MISSING_MODEL_PHRASES = (
    "not found",
    "does not exist",
    "no such model",
    "no models loaded",
    "invalid model identifier",
)
"""How servers say, in a 404 of their API (a JSON error), that they do not serve the model asked for: Ollama's 'model
"llama3.2" not found, try pulling it first', vLLM's "The model `qwen3-8b` does not exist.", LM Studio's "No models
loaded. Please load a model in the developer page or use the `lms load` command" and 'Invalid model identifier
"qwen3-8b". Please specify a valid downloaded model …'."""
_OUT_OF_MEMORY_PHRASES = ("requires more system memory",)
"""How a server says, in a 5xx, that the model does not fit the memory the machine has free: Ollama's "model requires
more system memory (7.5 GiB) than is available (5.2 GiB)". Every attempt gets it: not retried."""
_GENERATION_FAILED = 424
"""Hugging Face TGI's status for a `GenerationError`: its model's shards failed while generating (CUDA out of memory,
…), a failure of the server, retried as a 5xx is."""
_GENERATION_FAILED_TEXT = "Request failed during generation"
"""How TGI's message for that error begins: inside a stream it labels every error 422, or names no status."""


class ErrorInAnswer(openai.APIError):
    """An error a server sent with status 200 in place of the answer: OpenRouter answers an upstream failure met once
    the request was under way as `{"error": {"code": 502, "message": ...}}` (its documented error shape) with a 200.
    Classified as an error event sent mid-stream is, by the status its `code` stands for."""


def answer_error(completion: object, url: str) -> ErrorInAnswer | None:
    """The error a Chat Completions answer without choices carries in its `error` field, if any."""
    if getattr(completion, "choices", None):
        return None
    extra = getattr(completion, "model_extra", None)
    error = extra.get("error") if isinstance(extra, Mapping) else None
    if not error:
        return None
    message = error.get("message") if isinstance(error, Mapping) else None
    text = message if isinstance(message, str) and message else str(error)
    return ErrorInAnswer(text, httpx2.Request("POST", url), body=error)


def _status_error(
    exc: openai.APIStatusError, *, provider: str, model: str, api_key_env: str | None, api_key: str | None
) -> ProviderError:
    return _classified(
        exc,
        exc.status_code,
        dict(exc.response.headers),
        _message(exc, api_key) + _path_hint(exc),
        provider=provider,
        model=model,
        api_key_env=api_key_env,
        api_key=api_key,
    )


def _stream_status(exc: openai.APIError) -> int | None:
    """The HTTP status an error event sent mid-stream (`data: {"error": {...}}`, after a 200) stands for:
    its numeric `code` (as vLLM and LiteLLM send), TGI's `http_status_code`, 429 for `rate_limit_exceeded` (and
    OpenAI's `slow_down`), 503 for OpenAI's `server_is_overloaded`, 500 for OpenAI's `server_error` type
    (OpenRouter's `server_error` code); None when it names none."""
    code = str(exc.code or "").lower()
    if code.isdigit() and 400 <= int(code) <= 599:
        return int(code)
    if code in ("rate_limit_exceeded", "slow_down"):
        return 429
    if code == "server_is_overloaded":  # (OpenAI's 503)
        return 503
    if exc.type == "server_error" or code == "server_error":  # (OpenRouter names it by its `code`)
        return 500
    if _stream_message(exc) == "Model is overloaded":  # TGI's (429 when answered before its stream; 422 in it)
        return 429
    if _stream_message(exc).startswith(_GENERATION_FAILED_TEXT):  # TGI's (424 before its stream; 422 in it)
        return _GENERATION_FAILED
    # Hugging Face TGI's error event: `{"message", "http_status_code"}`
    tgi = exc.body.get("http_status_code") if isinstance(exc.body, Mapping) else None
    if isinstance(tgi, int) and not isinstance(tgi, bool) and 400 <= tgi <= 599:
        return tgi
    return None


def _stream_message(exc: openai.APIError) -> str:
    """The text of an error event sent mid-stream: its `message`, or the error itself when it is a bare string (older
    TGI's `{"error": "...", "error_type": ...}`), for which the SDK says only "An error occurred during streaming"."""
    if isinstance(exc.body, str) and exc.body.strip():
        return " ".join(exc.body.split())
    return exc.message


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
"""A part of OpenAI's reset durations ("1s", "6m0s", "20ms", "1h2m3.5s")."""


def _reset_seconds(value: str) -> float | None:
    """Seconds of a reset duration as OpenAI writes it in `x-ratelimit-reset-tokens` / `-requests`, else None."""
    value = value.strip()
    parts = _DURATION.findall(value)
    if not parts or "".join(n + unit for n, unit in parts) != value:
        return None
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * scale[unit] for n, unit in parts)


def _rate_limit_wait(exc: openai.APIError, status: int, headers: Mapping[str, str]) -> float | None:
    """The wait a 429 without `retry-after(-ms)` asks for in OpenAI's rate-limit headers: `x-ratelimit-reset-tokens`
    for a limit of tokens (the error's `type` is `tokens`), `x-ratelimit-reset-requests` for one of requests. (Else
    the retries came after a short backoff, each refused alike while the limit lasted: "6m0s" for a minute's tokens.)"""
    lowered = {k.lower(): v for k, v in headers.items()}
    if status != 429 or "retry-after" in lowered or "retry-after-ms" in lowered:
        return None
    kind = str(exc.type or "")
    if kind not in ("tokens", "requests"):
        return None
    reset = lowered.get(f"x-ratelimit-reset-{kind}")
    return _reset_seconds(reset) if reset else None


def _classified(
    exc: openai.APIError,
    status: int,
    headers: dict[str, str],
    detail: str,
    *,
    provider: str,
    model: str,
    api_key_env: str | None,
    api_key: str | None,
) -> ProviderError:
    code = str(exc.code or "").lower()  # a string, though some servers (and older SDKs) give a number
    error = http_error(
        status,
        detail,
        provider=provider,
        model=model,
        api_key_env=api_key_env,
        body=exc.body,
        headers=headers,
        retry_after=_rate_limit_wait(exc, status, headers),
        refused_key=status == 401 and code == "invalid_api_key",
        key_accepted=code in _NOT_THE_KEY,
        quota_exhausted=code == "insufficient_quota",
        over_limit=status == 429 and _OVER_LIMIT in detail,
        too_long=_too_long(exc, code, status, detail.lower()),
        filtered=code in _FILTER_CODES or _flagged(exc, status),
        missing_model=_missing_model(exc, code, status, detail.lower()),
        server_failed=status == _GENERATION_FAILED,
        sent_key=api_key,
    )
    if status >= 500 and any(p in detail.lower() for p in _OUT_OF_MEMORY_PHRASES):
        error.retryable = False  # (the model does not fit the memory: no retry cures it, the next model answers)
    return error


def _flagged(exc: openai.APIError, status: int) -> bool:
    """Whether the error is OpenRouter's refusal of an input its moderation flagged: a 403 whose `metadata` holds
    the `reasons` and the `flagged_input` (its documented `ModerationErrorMetadata`), not a refused key."""
    metadata = exc.body.get("metadata") if isinstance(exc.body, Mapping) else None
    return status == 403 and isinstance(metadata, Mapping) and ("flagged_input" in metadata or "reasons" in metadata)


def _missing_model(exc: openai.APIError, code: str, status: int, detail: str) -> bool:
    """Whether a 404 says the server does not serve the model: OpenAI's `model_not_found`, or the API's own JSON error
    naming a model not found (Ollama's for a model not pulled; not a server's "404 page not found" for a wrong URL)."""
    if status != 404:
        return False
    if code == "model_not_found":
        return True
    said = _own_error(exc)
    return said is not None and "model" in said.lower() and any(p in detail for p in _MISSING_MODEL_PHRASES)


def _own_error(exc: openai.APIError) -> str | None:
    """The API's own error message: its `error.message`, or a JSON body's `error` when that is a string (`{"error":
    "model 'x' not found"}`, as Ollama's own API and other OpenAI-compatible servers answer, which the SDK gives as
    that string); None for a page's text ("404 page not found": not the API)."""
    body = exc.body
    if isinstance(body, Mapping):
        said = body.get("message")
        return said if isinstance(said, str) and said else None
    response = getattr(exc, "response", None)
    if not isinstance(body, str) or not isinstance(response, httpx2.Response):
        return None
    try:
        sent = json.loads(response.text)
    except (ValueError, httpx2.ResponseNotRead):  # (not JSON: a page's text)
        return None
    return body if isinstance(sent, Mapping) and sent.get("error") == body else None


def _too_long(exc: openai.APIError, code: str, status: int, detail: str) -> bool:
    """Whether the error says the prompt does not fit the model's context: OpenAI's code, llama.cpp's type
    (`exceed_context_size_error`, answered 400 or, by older builds, 500), llama.cpp's or TGI's words (TGI
    answers 422), or a message saying so."""
    if code in _CONTEXT_CODES or str(exc.type or "") in _CONTEXT_TYPES:
        return True
    if any(p in detail for p in _CONTEXT_SIZE_PHRASES):
        return True
    return status in (400, 413) and any(p in detail for p in _CONTEXT_PHRASES)


def _path_hint(exc: openai.APIStatusError) -> str:
    """For a 404 that is not an API's own JSON error (a model not found, …) but a server's "no such page": the URL,
    and what usually causes it, a base URL without its `/v1`."""
    if exc.status_code != 404 or _own_error(exc) is not None:
        return ""
    url = shown_url(str(exc.request.url))  # (no password or key of the base URL in a stored error)
    return (
        f" ({exc.request.method} {url} not found: check the base URL; OpenAI-compatible servers serve the API"
        " under /v1, e.g. http://localhost:11434/v1)"
    )


_BODY_SHOWN = 300
"""How much of an error body that is not OpenAI's JSON error the message shows."""


def _upstream(body: Mapping[str, object]) -> str:
    """What the upstream provider said, when a gateway passes its error on (OpenRouter's "Provider returned error",
    its `metadata` holding `provider_name` and the upstream's `raw` answer): " (Azure: Invalid 'max_output_tokens':
    …)", else "". Without it the error said only "Provider returned error", not what to change."""
    metadata = body.get("metadata")
    raw = metadata.get("raw") if isinstance(metadata, Mapping) else None
    if not isinstance(raw, str) or not raw.strip():
        return ""
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    error = parsed.get("error", parsed) if isinstance(parsed, dict) else None
    said = error.get("message") if isinstance(error, dict) else None
    shown = " ".join((said if isinstance(said, str) and said.strip() else raw).split())
    shown = shown if len(shown) <= _BODY_SHOWN else shown[: _BODY_SHOWN - 1] + "…"
    who = metadata.get("provider_name") if isinstance(metadata, Mapping) else None
    return f" ({who}: {shown})" if isinstance(who, str) and who else f" ({shown})"


def _message(exc: openai.APIStatusError, api_key: str | None = None) -> str:
    """The API's own message (`error.message`), else what the body says: a proxy's text or HTML page, a server's
    `{"error": "..."}` or `{"detail": ...}`, which the SDK leaves out of its message ("Error code: 502"); `api_key`
    masked before the body is cut (a key the cut went through was left half shown)."""
    body = exc.body
    if isinstance(body, list) and body and isinstance(body[0], Mapping):  # (Gemini's OpenAI compatibility: a list)
        error = body[0].get("error", body[0])
        body = error if isinstance(error, Mapping) else body
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return str(body["message"]) + _upstream(body)
    if isinstance(body, Mapping) and body:
        shown = json.dumps(body, ensure_ascii=False, default=str)
    elif isinstance(body, str):
        shown = " ".join(body.split())
    else:
        return exc.message
    if not shown:
        return exc.message
    shown = masked_key(shown, api_key)
    cut = shown if len(shown) <= _BODY_SHOWN else shown[: _BODY_SHOWN - 1] + "…"
    # (the SDK's own message for such a body differs between its versions: some quote the raw body, line breaks and
    # all, others not at all; this is the same whatever the version)
    return f"Error code: {exc.status_code} - {cut}"


@contextmanager
def map_openai_errors(
    *,
    provider: str,
    model: str,
    api_key_env: str | None,
    base_url: str | None = None,
    api_key: str | None = None,
    closed: Callable[[], bool] | None = None,
) -> Iterator[None]:
    """Translate every exception the OpenAI SDK (or the response mapping) raises into the OrchestrateX tree.

    `ProviderError`s raised inside the block get `model` and `provider` filled in when missing. A server that cannot be
    reached or does not answer in time is named by its `base_url` (its secrets hidden): "cannot reach openai" said
    nothing of the local server `OPENAI_BASE_URL` pointed at, and read as OpenAI's API being down. Where an error
    answer quotes `api_key` (the key the calls carry), the error shows `***` in its place. A connection lost once
    `closed()` says the provider's own `aclose()` closed its client is said so, not retried (not the server's doing).
    """
    at = f" at {shown_url(base_url.rstrip('/'))}" if base_url else ""
    try:
        yield
    except ProviderError as exc:
        exc.model = exc.model or model
        exc.provider = exc.provider or provider
        raise
    except openai.APITimeoutError as exc:
        raise ProviderTimeout(f"{provider}{at} did not answer in time", model=model, provider=provider) from exc
    except openai.APIConnectionError as exc:
        if closed is not None and closed():
            raise cut_off(provider=provider, model=model, at=at) from exc
        cause = exc.__cause__ or exc
        proxy = isinstance(cause, httpx2.ProxyError)
        url = str(exc.request.url)  # (the request's: through a proxy or not)
        raise connection_error(cause, provider=provider, model=model, proxy=proxy, at=at, url=url) from exc
    except openai.APIStatusError as exc:
        raise _status_error(exc, provider=provider, model=model, api_key_env=api_key_env, api_key=api_key) from exc
    except (  # UnicodeDecodeError: a body that is not UTF-8
        openai.APIResponseValidationError,
        json.JSONDecodeError,
        UnicodeDecodeError,
        pydantic.ValidationError,
    ) as exc:
        raise MalformedResponse(
            f"{provider} answered with a body that is not a valid response: {exc}", model=model, provider=provider
        ) from exc
    except openai.APIError as exc:  # an error event in a stream (or a 200's body): classified by the status it names
        message = _stream_message(exc)
        status = _stream_status(exc)
        if status is None and any(p in message.lower() for p in _CONTEXT_SIZE_PHRASES):
            status = 400  # (a prompt too long, said in words only: TGI validates a streamed request in its stream)
        if status is None:
            raise ProviderError(f"{provider} call failed: {message}", model=model, provider=provider) from exc
        where = "answered with status 200" if isinstance(exc, ErrorInAnswer) else "sent mid-stream"
        detail = f"{message} ({where})"
        raise _classified(
            exc, status, {}, detail, provider=provider, model=model, api_key_env=api_key_env, api_key=api_key
        ) from exc
    except openai.OpenAIError as exc:
        raise ProviderError(f"{provider} call failed: {exc}", model=model, provider=provider) from exc


@contextmanager
def read_by_the_sdk(*, provider: str, model: str) -> Iterator[None]:
    """Around the reading of an answer that came (a response's mapping, a stream's chunks): an error the SDK's own code
    raised reading it (`orchestratex.providers._http_errors.unreadable`: the SDK's `Response.output_text` on a message
    item whose `content` is null, a gateway's) is a `MalformedResponse`, the run going on with the next model. Not
    around the request: a TypeError the SDK raises there is a call the adapter made wrong, raised as it is (as an
    error of the adapter's own reading code, or of the caller's `on_text`, is)."""
    try:
        yield
    except UNREAD as exc:
        unread = unreadable(exc, "openai", provider=provider, model=model)
        if unread is None:
            raise
        raise unread from exc
