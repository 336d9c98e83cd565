"""Keep API keys out of the server's logs and traces: uvicorn logs each request's path with its query string, and
a server span (FastAPI's own, an ASGI instrumentation's) records it as `url.query`.

A WebSocket client may carry its key as `?token=<key>` (kept for the clients that do: the console offers it as a
subprotocol, `bearer.<key>`, which no log records); uvicorn writes that path to the
`uvicorn.access` log (HTTP) and the `uvicorn.error` log (WebSocket handshakes). The filter here
replaces the value of every `token` query parameter with `***` before a record is written, also when
the parameter's name is percent-encoded (`?tok%65n=`), as the server decodes it, the value of a parameter other APIs
take a credential in (`?key=`, `?api_key=`, `?access_token=`…) likewise, and any API key of this server sent
elsewhere in the URL (`?api_key=ox_…`, a key pasted into the path) with `ox_***`; `redact_span_url` does the
same to the URL attributes of the request's server span.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

from starlette.types import Scope

from ._log_floods import RepeatedWarningFilter

__all__ = ["HandshakeLogFilter", "TokenRedactingFilter", "hide_keys", "install_token_redaction", "redact_span_url"]

_PARAM = re.compile(r"([?&;])([^=&;?\s\"']*)=([^&;\s\"']*)")
LOGGERS = ("uvicorn.access", "uvicorn.error", "orchestratex.server")
"""The loggers that write request paths: uvicorn's, and the server's own (a request failing on the store, `GET
/api/sessions/user/ox_… answered 503`, wrote a key pasted into its path in clear while the access log masked it)."""


_CREDENTIAL_PARAMS = frozenset(
    {"key", "api_key", "apikey", "api-key", "x-api-key", "access_token", "auth", "authorization", "password", "secret"}
)
"""Query parameters other APIs take a credential in (Gemini's `?key=`, Azure's `?api-key=`, OAuth's `?access_token=`):
a client sending the key of its provider there (`?key=AIza…`, `?api_key=sk-…`) had it logged whole, as only a key of
this server's (`ox_…`) was masked."""


def _redact_param(match: re.Match[str]) -> str:
    sep, name, value = match.groups()
    if "%" in name or "+" in name:
        name = unquote_plus(name)  # `?tok%65n=<key>` is `?token=<key>` to the server
    name = name.lower()
    if not value or (name != "token" and (name not in _CREDENTIAL_PARAMS or _KEY.fullmatch(value))):
        return match.group(0)  # (a key of this server's is masked below, as `ox_***`)
    return f"{sep}{match.group(2)}=***"


_KEY_CHAR = r"(?:[A-Za-z0-9_-]|%(?:2[Dd]|3[0-9]|4[1-9A-Fa-f]|5[0-9Aa]|5[Ff]|6[1-9A-Fa-f]|7[0-9Aa]))"
"""A character of a key, as sent or percent-encoded (`%6f` is `o`)."""
_KEY = re.compile(rf"(?:(?<![A-Za-z0-9_-])|(?<=%[0-9A-Fa-f]{{2}}))(?:o|%6[Ff])(?:x|%78)(?:_|%5[Ff]){_KEY_CHAR}{{32,}}")
"""An API key (`ox_` and 43 URL-safe characters) wherever a client put it: `?api_key=`, `?key=` (as other APIs take
theirs), a path segment. The server reads none of those, but uvicorn logs the path as sent: percent-encoded in part
(`%6fx_…`, `/keys%2Fox_…`) as a client wrote it, which the server decodes."""


def redact(text: str) -> str:
    """`text` with the value of each `token` query parameter replaced by `***`, however its name is encoded, and any
    API key elsewhere in it by `ox_***`."""
    if "=" in text:
        text = _PARAM.sub(_redact_param, text)
    return hide_keys(text)


def hide_keys(text: str) -> str:
    """`text` with every API key of this server in it replaced by `ox_***`, wherever it is (not only in a URL)."""
    return _KEY.sub("ox_***", text) if "ox_" in text or "%" in text else text


class TokenRedactingFilter(logging.Filter):
    """Rewrites a record's message and string arguments so that no `?token=` value is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


class HandshakeLogFilter(logging.Filter):
    """WebSocket handshakes are requests: log them as such, not on `uvicorn.error`.

    uvicorn writes each handshake's request line (`"WebSocket /ws/..." 401`) to `uvicorn.error`, and the
    `websockets` library adds `connection rejected (401 Unauthorized)` there too: log pipelines file
    both as errors, two per refused handshake, which anyone can provoke without a key. This filter
    moves the request line to `uvicorn.access` (where HTTP requests are logged, and switched off with
    them) and drops the redundant rejection line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO or not isinstance(record.msg, str):
            return True
        if record.msg.startswith("connection rejected ("):
            return False
        if '- "WebSocket %s"' in record.msg and isinstance(record.args, tuple) and len(record.args) >= 2:
            access = logging.getLogger("uvicorn.access")
            if access.isEnabledFor(record.levelno) and (access.handlers or access.propagate):
                status = record.args[2] if len(record.args) > 2 else (101 if "[accepted]" in record.msg else 403)
                # the shape of uvicorn's access records, which its access formatter unpacks
                record.msg, record.args = (
                    '%s - "%s %s HTTP/%s" %d',
                    (record.args[0], "WEBSOCKET", record.args[1], "1.1", status),
                )
                record.name = access.name
                access.handle(record)
            return False
        return True


def install_token_redaction(loggers: tuple[str, ...] = LOGGERS) -> None:
    """Attach one `TokenRedactingFilter` to each named logger, and `HandshakeLogFilter` and `RepeatedWarningFilter`
    to `uvicorn.error` (idempotent)."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactingFilter) for f in logger.filters):
            logger.addFilter(TokenRedactingFilter())
    errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, HandshakeLogFilter) for f in errors.filters):
        errors.addFilter(HandshakeLogFilter())
    if not any(isinstance(f, RepeatedWarningFilter) for f in errors.filters):
        errors.addFilter(RepeatedWarningFilter())  # (a flood of unreadable requests: not a line each)


_URL_ATTRIBUTES = ("url.query", "url.full", "url.path", "http.target", "http.url")
"""The attributes of a server span that hold the request's URL or a part of it (current and older semconv)."""


def redact_span_url(scope: Scope) -> None:
    """Keep API keys out of the URL attributes of the request's server span (FastAPI's own, or an ASGI
    instrumentation's, current when this runs): a WebSocket URL fetched as plain HTTP (a proxy that drops the
    `Upgrade` header) put its `?token=<key>` in the span's `url.query`, so the key reached the tracing backend,
    readable by whoever reads traces. With no secret in the URL it does nothing. Call it only once OpenTelemetry is
    imported."""
    query = scope.get("query_string", b"").decode("latin-1")
    if (query and redact(f"?{query}") != f"?{query}") or "ox_" in scope.get("path", ""):
        _redact_current_span(query)


def _redact_current_span(query: str) -> None:
    from opentelemetry import trace

    span = trace.get_current_span()
    if not span.is_recording():
        return
    attributes = getattr(span, "attributes", None)  # (the SDK's spans show theirs; the API's do not)
    if attributes is None:
        span.set_attribute("url.query", redact(f"?{query}")[1:])
        return
    for name in _URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str):
            hidden = redact(f"?{value}")[1:] if name == "url.query" else redact(value)
            if hidden != value:
                span.set_attribute(name, hidden)
