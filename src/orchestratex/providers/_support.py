"""Helpers every HTTP provider adapter needs: reading a retry delay, unwrapping a judge's JSON."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from .._shown import shown_url
from ..exceptions import ConfigurationError, UserError

__all__ = [
    "PROVIDER_TIMEOUT_ENV",
    "SYNC_CLIENT",
    "base_url_problem",
    "checked_api_key",
    "checked_base_url",
    "checked_client",
    "checked_http_client",
    "checked_http_environment",
    "checked_timeout",
    "env_timeout",
    "env_value",
    "not_json",
    "one_line",
    "retry_after_seconds",
    "server_named",
    "shown_url",
    "time_to_write",
    "unwrap_json_object",
    "without_query",
]

_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)
_THINKING = re.compile(r"\A\s*<think>.*?</think>", re.DOTALL)
"""A reasoning model's thinking at the start of its answer (DeepSeek-R1, Qwen3 served without a reasoning parser)."""


def server_named(base_url: str, default_base_url: str) -> str:
    """` at <base URL>` (its secrets hidden) for a server other than the vendor's own (a gateway, a proxy, a server of
    one's own that the base-URL variable names), else "": what follows the provider's name in the message of a server
    that cannot be reached or stops answering, so that it is not read as the vendor's API being down."""
    if urlsplit(base_url).hostname == urlsplit(default_base_url).hostname:
        return ""
    return f" at {shown_url(base_url.rstrip('/'))}"


def env_value(env: Mapping[str, str], var: str) -> str | None:
    """The value of the variable `var` in `env`, or None when it is unset, empty or blank (`OPENAI_API_KEY=" "`, as an
    env file's `KEY= ` or a secret store's empty field leaves it): a blank key or base URL configures nothing, as an
    empty one does. (Counted as set, a blank key showed its provider "configured" in `orchestratex models`, and `run`
    then failed "no API key" instead of using the other providers or the simulator.)"""
    value = env.get(var)
    return value if value and not value.isspace() else None


def checked_api_key(key: str | None, *, provider: str, where: str) -> str | None:
    """`key` without the white space around it (the line break a key file, a secret store or an env file left), or
    a `ConfigurationError` when it holds a character no HTTP header can carry (a space or a line break inside, `…`), as
    the message says where it came from (`where`: `OPENAI_API_KEY or api_key=`) and never shows the key. Sent as it
    was, such a key failed every call as a retried connection error quoting the key, or a raw `UnicodeEncodeError`.
    So is a key in quotes (docker's `--env-file` keeps them), which every vendor refused, and a key that is not a string
    (a pydantic `SecretStr`, said to pass its `.get_secret_value()`)."""
    if key is None:
        return None
    if not isinstance(key, str):  # (a pydantic `SecretStr` from the app's settings failed with a bare AttributeError)
        hint = ": pass its .get_secret_value()" if hasattr(key, "get_secret_value") else ""
        raise ConfigurationError(f"{provider}: the API key ({where}) must be a string, not {type(key).__name__}{hint}")
    stripped = key.strip()
    for i, char in enumerate(stripped):
        if not " " < char <= "~":
            what = {" ": "a space", "\t": "a tab", "\n": "a line break", "\r": "a line break"}.get(char)
            what = what or f"{char!r} (U+{ord(char):04X})"
            raise ConfigurationError(
                f"{provider}: the API key ({where}) holds {what} at character {i + 1}, which no HTTP header can carry"
                " and no key holds: set it again, copied whole"
            )
    if len(stripped) > 1 and stripped[0] == stripped[-1] and stripped[0] in "\"'":
        # (`OPENAI_API_KEY="sk-…"` in a docker `--env-file`, which keeps the quotes: sent with them, every call was
        # refused, "set OPENAI_API_KEY to a valid key", though the key inside was valid)
        raise ConfigurationError(f"{provider}: the API key ({where}) is in quotes, which no key holds: remove them")
    return stripped or None


def one_line(text: str, limit: int = 300) -> str:
    """`text` (an error body that is not the vendor's JSON: a proxy's HTML page, a gateway's text) as it is quoted in an
    error's message: on one line, its white space collapsed, cut to `limit` characters. Quoted whole, a proxy's page
    put thousands of characters and dozens of line breaks in the message, which `orchestratex run` printed for each
    model that failed."""
    shown = " ".join(text.split())
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def not_json(body: str) -> str:
    """What a success answer whose body is not JSON says: the SDKs hand such a body on as text (a web page answered at
    the base URL, a captive portal's or a proxy's login page), which was read as an answer without its fields ("chat
    completion without choices", "message without content, usage or stop reason")."""
    quoted = one_line(body) if body.strip() else "an empty body"
    return f"the server answered with a body that is not JSON, not the API's answer (check the base URL): {quoted}"


def base_url_problem(base_url: str, *, endpoint: str | None = None) -> str | None:
    """Why every call to `base_url` would fail, in words that follow the URL as it is shown (`has white space at an
    end: remove it: write 'http://…'`), or None: the one check of a base URL, which each place that takes one words
    with where it came from (an adapter's `base_url=` or variable, `orchestratex models`, a catalog file's
    `[providers.NAME]`). Refused: a URL with white space around it or inside (an env file's trailing space or line
    break, the `\r` of a `.env` file written on Windows) or a control character; one in quotes
    (`"http://localhost:11434/v1"`, which docker's `--env-file` keeps); one without `http://` or `https://`
    (`localhost:4000`, as a host and port are often written) or without a host (`http:/localhost:4000`); and, when the
    SDK adds `endpoint` (`/chat/completions`) itself, one naming that endpoint. Its password and secret query
    parameters are never shown."""
    odd = next((char for char in base_url if char.isspace() or not char.isprintable()), None)
    if odd is not None:
        what = "white space" if odd.isspace() else "a control character"
        at = "at an end" if base_url != base_url.strip() or odd in (base_url[0], base_url[-1]) else "inside"
        stripped = base_url.strip()
        fix = f": write {shown_url(stripped)!r}" if stripped.isprintable() and " " not in stripped else ""
        return f"has {what} {at}: remove it{fix}"
    if len(base_url) > 1 and base_url[0] == base_url[-1] and base_url[0] in "\"'":  # (docker's --env-file keeps them)
        return f"is in quotes: remove them, {shown_url(base_url[1:-1])!r}"
    parts = urlsplit(base_url)
    if parts.scheme.lower() in ("http", "https") and not parts.netloc:  # (`http:/localhost:4000`, a slash short)
        return "names no host: write the scheme, '://' and the server's host, e.g. http://localhost:4000"
    if parts.scheme.lower() not in ("http", "https"):
        return f"is not an http:// or https:// URL: write it whole, e.g. http://{shown_url(base_url).split('://')[-1]}"
    path = parts.path.rstrip("/")
    if endpoint and path.endswith(endpoint):  # (the endpoint's URL, as tools asking for "the endpoint URL" take it;
        # with its query, as Azure's portal shows a deployment's target URI: `…/chat/completions?api-version=…`)
        api_root = shown_url(urlunsplit(parts._replace(path=path.removesuffix(endpoint))))
        return f"names the endpoint; write the API root, {api_root} (calls add {endpoint})"
    host = parts.hostname or ""
    if endpoint == "/chat/completions" and host.endswith(_AZURE_OPENAI_HOSTS) and not path.startswith("/openai"):
        # (an Azure OpenAI resource's endpoint as the portal shows it, `https://NAME.openai.azure.com/`: every call
        # went to `/chat/completions`, which Azure answers 404 "Resource not found")
        root = f"{parts.scheme}://{host}"
        return (
            f"is an Azure OpenAI resource without its API's path: write {root}/openai/v1 (Azure's v1 API), or"
            f" {root}/openai/deployments/DEPLOYMENT?api-version=VERSION"
        )
    return None


_AZURE_OPENAI_HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com")
"""The hosts of Azure OpenAI resources, whose OpenAI-compatible APIs are under `/openai/`."""


def checked_base_url(base_url: str, *, provider: str, where: str, endpoint: str | None = None) -> None:
    """Refuse, with a `ConfigurationError` naming where it came from (`where`: `ANTHROPIC_BASE_URL`, `base_url`), a
    base URL every call would fail with (`base_url_problem`)."""
    problem = base_url_problem(base_url, endpoint=endpoint)
    if problem is not None:
        raise ConfigurationError(f"{provider}: the base URL {shown_url(base_url)!r} ({where}) {problem}")


_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
"""The proxy URLs httpx can use (SOCKS ones with the socksio package)."""


def checked_http_environment(provider: str) -> None:
    """Refuse, with a `ConfigurationError` naming the variable, what of the environment the SDK's HTTP client, made
    next, reads and cannot use: a CA bundle (`SSL_CERT_FILE`, `SSL_CERT_DIR`) that is missing or holds no certificate
    (a `FileNotFoundError` or `ssl.SSLError` traceback from `orchestratex run`), or a proxy (`HTTPS_PROXY`,
    `ALL_PROXY`, …, read as httpx reads them, through `urllib.request.getproxies`) that the SDK's HTTP client, made
    next, cannot use: a SOCKS proxy (`ALL_PROXY=socks5://proxy:1080`) without the socksio package, or one of another
    scheme (`ftp://`). The client failed as it was made, with a raw `ImportError` ("… install httpx using `pip install
    httpx[socks]`", a package the SDK does not use) or `ValueError` ("Unknown scheme for proxy URL"): a
    traceback from `orchestratex run`. Its password is never shown."""
    import importlib.util
    import os
    from urllib.request import getproxies

    _check_ca_variables(provider, os.environ)
    found = getproxies()
    if any(host.strip() == "*" for host in found.get("no", "").split(",")):
        return  # (NO_PROXY=*: httpx uses no proxy)
    for scheme in ("https", "http", "all"):
        url = found.get(scheme)
        if not url:
            continue
        url = url if "://" in url else f"http://{url}"  # (as httpx reads `proxy:3128`)
        var = next(
            (k for k, v in os.environ.items() if k.lower() == f"{scheme}_proxy" and v), f"{scheme.upper()}_PROXY"
        )
        used = urlsplit(url).scheme.lower()
        if used not in _PROXY_SCHEMES:
            raise ConfigurationError(
                f"{provider}: the proxy {var}={shown_url(url)!r} is not an http://, https:// or socks5:// URL, which is"
                " all the SDK's HTTP client can use: write the proxy's address with one of those schemes"
            )
        if used.startswith("socks") and importlib.util.find_spec("socksio") is None:
            raise ConfigurationError(
                f"{provider}: the proxy {var}={shown_url(url)!r} is a SOCKS proxy, which the SDK's HTTP client uses"
                " with the socksio package only: pip install socksio"
            )


def _check_ca_variables(provider: str, env: Mapping[str, str]) -> None:
    """`SSL_CERT_FILE` or `SSL_CERT_DIR` (which httpx reads as its trusted CAs) that cannot be loaded: refused."""
    import os
    import ssl

    for var in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        path = env_value(env, var)
        if path is None:
            continue
        try:
            if var == "SSL_CERT_FILE":
                ssl.create_default_context(cafile=path)
            elif not os.path.isdir(path):  # (a missing directory is read lazily: every handshake failed)
                raise NotADirectoryError(0, "not a directory")
            else:
                ssl.create_default_context(capath=path)
        except (OSError, ssl.SSLError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigurationError(
                f"{provider}: {var}={path!r}, the CA certificates trusted for HTTPS, cannot be loaded ({why}): point it"
                " at a PEM bundle of CA certificates, or unset it"
            ) from None
        break  # (httpx reads the first one set)


def checked_client(client: object, wrong: type, *, provider: str, name: str, why: str) -> None:
    """Refuse, with a `UserError` naming the class to pass (`name`: `an openai.AsyncOpenAI`), an injected `client=`
    that is a `wrong` one: the SDK's sync client made every call, blocking the event loop, and was paid for, before
    the answer failed to be awaited (`TypeError: object ChatCompletion can't be used in 'await' expression`) and was
    lost. Anything else is taken as it is (a tracing library's wrapper of the async client, say)."""
    if isinstance(client, wrong):
        given = f"{type(client).__module__}.{type(client).__qualname__}"
        raise UserError(f"{provider}: client= takes {name}, not {given} ({why})")


def checked_http_client(
    http_client: object, *, provider: str, name: str, takes: tuple[str, ...] = ("httpx2", "httpx")
) -> None:
    """Refuse, with a `UserError` naming the class to pass (`name`: `an httpx2.AsyncClient`), an injected `http_client=`
    that is a synchronous HTTP client (`httpx2.Client`, `httpx.Client`), which the SDK's async client cannot send
    through: it was refused with a raw `TypeError` (the Anthropic SDK's saying to use `httpx2.Client`, another
    synchronous one) or, by google-genai, with two pydantic validation errors of its `HttpOptions`. So is any other
    object than an `AsyncClient` of the libraries the SDK `takes` (the Anthropic SDK's httpx2 only: an
    `httpx.AsyncClient`, the one most code has, failed with its raw `TypeError`)."""
    if http_client is None:
        return
    for cls in type(http_client).__mro__:
        library = cls.__module__.partition(".")[0]
        if cls.__name__ == "Client" and library in ("httpx", "httpx2"):
            raise UserError(
                f"{provider}: http_client= takes {name}, not {library}.Client (a synchronous HTTP client, which the"
                " SDK's async client cannot send through)"
            )
    if any(
        cls.__name__ == "AsyncClient" and cls.__module__.partition(".")[0] in takes for cls in type(http_client).__mro__
    ):
        return
    kind = type(http_client)
    library = kind.__module__.partition(".")[0]
    shown = f"{library}.{kind.__name__}" if library in ("httpx", "httpx2") else kind.__name__
    raise UserError(f"{provider}: http_client= takes {name}, not {shown}")


SYNC_CLIENT = (
    "the SDK's sync client: each call would block the event loop and be paid for, then fail as it cannot be awaited"
)
"""Why the SDKs' sync clients are refused."""


def without_query(base_url: str) -> tuple[str, dict[str, str] | None]:
    """`base_url` without its query string (`…/openai/deployments/gpt-4o?api-version=2024-10-21`, as Azure-style
    gateways are written), and the query's parameters, for the SDK to send with every request (`default_query`): left
    in the base URL, the SDKs join the endpoint's path after the query (`…?api-version=2024-10-21chat/completions`)."""
    parts = urlsplit(base_url)
    if not parts.query:
        return base_url, None
    return urlunsplit(parts._replace(query="")), dict(parse_qsl(parts.query, keep_blank_values=True))


def checked_timeout(timeout: object, *, provider: str) -> float | None:
    """An adapter's `timeout=`: seconds as a float, or None for no time limit; a `UserError` for anything else. `0`
    (which some libraries read as "no limit") made every call time out at once and be retried, `"30"` and NaN failed
    in the SDK at the first call or when the client was built, with a `TypeError` or a `ValueError`."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout < math.inf:
        raise UserError(
            f"{provider}: timeout must be a number of seconds > 0 (or None for no time limit), got {timeout!r}"
        )
    return float(timeout)


PROVIDER_TIMEOUT_ENV = "ORCHESTRATEX_PROVIDER_TIMEOUT_S"
"""The variable giving the `timeout` of the providers built from the environment (`from_env`)."""


def env_timeout(env: Mapping[str, str], default: float = 120.0) -> float:
    """The `timeout` of a provider configured by its environment variables (`OLLAMA_BASE_URL`, `OPENAI_BASE_URL`, a
    key): `ORCHESTRATEX_PROVIDER_TIMEOUT_S` when set, else `default`. A catalog endpoint takes `timeout` in its table,
    but a provider configured by variables alone had no way to wait longer than 120 s: a local model on a CPU, writing
    a few tokens a second, timed out on every long unstreamed answer and was retried, each attempt the same. A value
    that is no number of seconds > 0 is a `ConfigurationError` naming the variable."""
    raw = env_value(env, PROVIDER_TIMEOUT_ENV)
    if raw is None:
        return default
    seconds = _number(raw.strip())
    if seconds is None or not seconds > 0:
        raise ConfigurationError(
            f"{PROVIDER_TIMEOUT_ENV} must be a number of seconds > 0 (600 for ten minutes), not {raw!r}"
        )
    return seconds


SECONDS_PER_OUTPUT_TOKEN = 60 * 60 / 128_000
"""How long a model may take to write one token of its answer, reasoning included: the Anthropic SDK's reckoning (an
hour for 128,000 tokens)."""


def time_to_write(timeout: float | None, max_output_tokens: int) -> float | None:
    """The time a call allowed `max_output_tokens` may take: `timeout`, or more when the answer may take longer to write
    (by `SECONDS_PER_OUTPUT_TOKEN`: above about 4,300 tokens with a 120 s timeout); None (no limit) stays None. Nothing
    comes back while a model reasons, nor of an unstreamed answer until it is whole: held to `timeout`, a long answer
    timed out, to be retried and billed again, each attempt the same."""
    if timeout is None:
        return None
    return max(timeout, SECONDS_PER_OUTPUT_TOKEN * max_output_tokens)


def _number(value: str) -> float | None:
    """A finite number of `value`, or None (`nan`, `inf` and `1e400` are no wait a server can mean)."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from `retry-after-ms` (milliseconds) or `retry-after` (seconds or an HTTP date)."""
    ms = _number(headers.get("retry-after-ms") or "")
    if ms is not None:
        return max(ms / 1000, 0.0)
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _number(value)
    if seconds is not None:
        return max(seconds, 0.0)
    from email.utils import parsedate_to_datetime  # an HTTP date is rare: not worth 5 ms of every import

    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def unwrap_json_object(text: str) -> str:
    """The JSON object in `text` (bare, in a code fence, or amid prose); `text` itself when there is none.

    A leading `<think>…</think>` block (a reasoning model's thinking, left in its answer by a server without a
    reasoning parser) is skipped. A judge's answer without JSON is passed through untouched: the evaluator's
    tolerant parser still finds a score in prose like `8/10`.
    """
    stripped = _THINKING.sub("", text, count=1).strip()  # (its braces are no JSON of the verdict)
    candidates = [stripped]
    fenced = _FENCE.search(stripped)
    if fenced:
        candidates.append(fenced.group(1))
    start, end = stripped.find("{"), stripped.rfind("}")
    if 0 <= start < end:
        candidates.append(stripped[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return candidate
    return text
