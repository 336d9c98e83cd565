"""`ServerSettings`: the limits and timings of the server, from code or `ORCHESTRATEX_*` variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from ..exceptions import ConfigurationError
from ..telemetry._settings import FLAG_VALUES
from ._openai_presets import Preset, parse_presets

__all__ = ["ServerSettings"]

_ENV_PREFIX = "ORCHESTRATEX_"

_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]{1,5})?", re.IGNORECASE)
"""What a browser sends as `Origin` (and CORS compares as a whole string): `https://*.example.com`, a path or
a bare host would never match one, and `null` is what sandboxed and local-file pages send."""

_SHORTEST: dict[str, tuple[float, str]] = {
    "lease_ttl_s": (
        1.0,
        "a running orchestration's lease is renewed every third of it, one store write each: a shorter one lapses at"
        " the first slow write, and another server takes the run over",
    ),
    "resume_interval_s": (0.05, "each look for orchestrations to resume reads the store: more often, it spins on it"),
    "poll_interval_s": (0.01, "each watched session's events are read from the store this often"),
    "heartbeat_s": (0.05, "each open WebSocket reads then from the store whether its session has ended"),
    "ws_auth_check_s": (0.05, "each open WebSocket and running /v1 call reads its key from the store this often"),
}
"""The shortest value of each interval that sets how often the server does something, and why: `lease_ttl_s=0.001`
(or a resume interval as short) was taken, and an idle server spun on the store, taking a core's time to read it."""


class ServerSettings(BaseModel):
    """Limits and timings of the server. `from_env()` reads each field from `ORCHESTRATEX_<FIELD>` (upper case)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)  # (`inf` seconds: never, not a setting)

    rate_limit: int = Field(default=100, ge=1)
    """Requests per session per window (the spec: 100 per minute)."""
    rate_window_s: int = Field(default=60, ge=1)
    """Length of a rate-limit window in seconds (fixed windows)."""
    max_concurrent: int = Field(default=10, ge=1)
    """Orchestrations one user may have running at once (the spec: 10)."""
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    """Largest request body accepted (the spec: 5 MB); larger ones answer 413 without being read."""
    user_rate_limit: int = Field(default=1000, ge=1)
    """Requests per user (API key's user) per window, over all their sessions and the routes without one."""
    auth_failure_limit: int = Field(default=300, ge=1)
    """Failed key checks (no key, a malformed `Authorization` header, an unknown or revoked key) one client
    address may make per `rate_window_s` in one process; past it, every key check from that address answers
    429 with `Retry-After` until the window ends. IPv6 addresses count by /64. Behind a reverse proxy, have
    uvicorn trust its `X-Forwarded-For` (`FORWARDED_ALLOW_IPS`), or every client shares the proxy's address."""
    storage_quota_bytes: int = Field(default=256 * 1024 * 1024, ge=0)
    """Bytes of prompts and contexts one user may store (threads and orchestrations); past it, 413. 0: no quota."""
    max_connections: int = Field(default=1000, ge=1)
    """Open connections (HTTP and WebSocket) `orchestratex serve` accepts; past it, the longest-idle kept-alive
    connection is closed to make room, or with none idle the new one is answered 503 and closed. Lowered to fit
    the process's open-file limit."""
    max_connections_per_client: int = Field(default=256, ge=1)
    """Open HTTP connections from one client address; past it, that client's connection idle the longest (over
    5 s) is closed to make room, or with none the new one is answered 503. Raise it behind a reverse proxy,
    whose connections all come from one address."""
    header_timeout_s: float = Field(default=10.0, gt=0)
    """Time a connection has to send a request's line and headers (from connecting or its previous answer); 408."""
    body_timeout_s: float = Field(default=30.0, gt=0)
    """Longest pause while a request body is being sent; past it, 408 and the connection is closed."""
    keep_alive_s: float = Field(default=75.0, gt=0)
    """How long an idle kept-alive connection stays open between requests. Longer than clients keep theirs
    (httpx, and so the OpenAI SDK: 5 s; aiohttp: 15 s; a load balancer: typically 60 s), so that a client never
    sends a request on a connection the server has just closed. When connections run short, an idle one may be
    closed sooner to make room (see `max_connections` and `max_connections_per_client`)."""
    max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    """Largest request line plus headers; larger ones answer 431 without being read whole."""
    ws_max_per_user: int = Field(default=20, ge=1)
    """WebSocket streams one user may hold open in one server process; past it, 429."""
    ws_send_timeout_s: float = Field(default=10.0, gt=0)
    """Longest a WebSocket client may go without taking what it was sent (16 KiB of it, under `orchestratex serve`: a
    large event is waited for while the client takes it); one that does not is closed with code 4008."""
    ws_max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    """Largest message a WebSocket client may send (the server reads and ignores them); larger closes with 1009."""
    heartbeat_s: float = Field(default=15.0, gt=0)
    """Seconds of silence after which a WebSocket receives `{"type": "heartbeat", ...}`."""
    ws_queue_size: int = Field(default=1000, ge=1)
    """Events buffered per WebSocket subscriber; past this the server closes the socket with code 4008."""
    poll_interval_s: float = Field(default=0.5, gt=0)
    """How often a watched session's events are read from the store (events of other server processes)."""
    lease_ttl_s: float = Field(default=60.0, gt=0)
    """Lease of a running orchestration; a dead process's orchestrations are resumed once it expires."""
    resume_interval_s: float | None = Field(default=None, gt=0)
    """How often to look for orchestrations left by a dead process (default: half the lease)."""
    shutdown_grace_s: float = Field(default=5.0, ge=0)
    """On shutdown, how long running orchestrations may still finish before the rest are handed back (suspended,
    still `running`, for the next server on the store to resume), not cancelled."""
    access_log: bool = True
    """Whether `orchestratex serve` logs every request (uvicorn's access log)."""
    log_format: Literal["text", "json"] = "text"
    """How `orchestratex serve` writes its log lines: `text` (the library's fields as logfmt `key=value`), or
    `json`, one JSON object per line (`orchestratex.telemetry.JsonFormatter`) for Loki, Elasticsearch, Datadog…"""
    gc_threshold: int = Field(default=5_000, ge=100, le=2**31 - 1)  # (`gc.set_threshold` takes a C int)
    """`orchestratex serve` runs the cyclic garbage collector's youngest generation once this many more tracked
    objects are alive than at its last run (`gc.set_threshold`; Python's default is 700). Under 50 concurrent
    requests, each holding a few dozen such objects while it is served, 700 was crossed every few requests: the
    collector ran about 500 times a second, found nothing to free, and took about a tenth of the server's CPU.
    Much larger values made each collection larger under many running orchestrations.
    An app served otherwise (`create_app` under your own uvicorn) keeps its process's setting."""
    presets: dict[str, Preset | None] = Field(default_factory=dict)
    """Model names of `/v1/chat/completions` that stand for orchestration settings, added to (or, set to
    None, removed from) `orchestratex/auto`, `/fast` and `/best`. From the environment: inline JSON, or the
    path of a TOML or JSON file."""

    @field_validator("presets", mode="before")
    @classmethod
    def _parse_presets(cls, value: object) -> object:
        return parse_presets(value) if value is not None else {}

    metrics: Literal["admin", "key", "open", "off"] = "admin"
    """Who may read `/metrics`: an admin key (default), any valid key, anyone (`open`: for a port that only
    your Prometheus reaches), or nobody (`off`: 404)."""
    docs: Literal["open", "key", "off"] = "open"
    """Who may read the API's description: anyone (`open`, the default: `/openapi.json`, `/docs`, `/redoc`),
    any valid key (`key`: `/openapi.json` with a key; the `/docs` and `/redoc` pages, which a browser loads
    without one, answer 404), or nobody (`off`: all 404). `/health` and `/health/ready` stay open."""
    cors_origins: tuple[str, ...] = ()
    """Origins allowed to call the API from a browser (CORS), e.g. `https://app.example.com`; `*` for any.
    From the environment: comma-separated. Empty (the default): no CORS headers."""
    ws_auth_check_s: float = Field(default=5.0, gt=0)
    """How often an open WebSocket or running `/v1` call checks that its key is still valid, one store read per
    check (a key revoked through this server ends its sockets and calls at once; through another process, within
    this many seconds)."""
    auth_cache_s: float = Field(default=0.0, ge=0)
    """How long a verified API key is trusted in this process without asking the store. 0 (the default):
    every request checks the store, so a key revoked by any process is refused on its next request. Above
    0, a key revoked by another process (the CLI, another server) still works up to that long here."""

    @field_validator(*_SHORTEST)
    @classmethod
    def _not_too_often(cls, value: float | None, info: ValidationInfo) -> float | None:
        shortest, why = _SHORTEST[info.field_name or ""]
        if value is not None and value < shortest:
            raise ValueError(f"{value:g} s is too short: give at least {shortest:g} s ({why})")
        return value

    @field_validator("log_format", "metrics", "docs", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        """`ORCHESTRATEX_LOG_FORMAT=JSON`, `ORCHESTRATEX_METRICS=Open`: a named value in any case, as the on/off
        variables take theirs (`JSON` was refused, and `orchestratex serve` said so in a JSON line)."""
        return value.lower() if isinstance(value, str) else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: write scheme://host[:port] with no path or wildcard"
                    " (https://app.example.com), or * alone for any origin"
                )
        return tuple(origin.lower() for origin in value)  # as browsers send it (CORS compares whole strings)

    @property
    def resume_every_s(self) -> float:
        return self.resume_interval_s if self.resume_interval_s is not None else self.lease_ttl_s / 2

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ServerSettings:
        """Settings from `ORCHESTRATEX_RATE_LIMIT`, `ORCHESTRATEX_HEARTBEAT_S`, … then `overrides`."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = env.get(_ENV_PREFIX + name.upper())
            if raw is not None and raw.strip():
                values[name] = raw.strip()
        values.update(overrides)
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0]) if err["loc"] else "?"
            message = f"Input should be {FLAG_VALUES}" if err["type"] == "bool_parsing" else err["msg"]
            message = message.removeprefix("Value error, ")
            given = values.get(field)
            if isinstance(given, str) and err["type"] != "value_error" and len(given) <= 100:
                message += f", not {given!r}"  # (a preset's JSON or file says what is wrong in it itself)
            raise ConfigurationError(f"{_ENV_PREFIX}{field.upper()}: {message}") from None
