"""`ServerSettings`: the limits and timings of the server, from code or `ORCHESTRATEX_*` variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..exceptions import ConfigurationError

__all__ = ["ServerSettings"]

_ENV_PREFIX = "ORCHESTRATEX_"


class ServerSettings(BaseModel):
    """Limits and timings of the server. `from_env()` reads each field from `ORCHESTRATEX_<FIELD>` (upper case)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate_limit: int = Field(default=100, ge=1)
    """Requests per session per window (the spec: 100 per minute)."""
    rate_window_s: int = Field(default=60, ge=1)
    """Length of a rate-limit window in seconds (fixed windows)."""
    max_concurrent: int = Field(default=10, ge=1)
    """Orchestrations one user may have running at once (the spec: 10)."""
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    """Largest request body accepted (the spec: 5 MB); larger ones answer 413 without being read."""
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
    """On shutdown, how long running orchestrations may still finish before they are cancelled."""
    access_log: bool = True
    """Whether `orchestratex serve` logs every request (uvicorn's access log)."""
    metrics: Literal["admin", "key", "open", "off"] = "admin"
    """Who may read `/metrics`: an admin key (default), any valid key, anyone (`open`: for a port that only
    your Prometheus reaches), or nobody (`off`: 404)."""
    cors_origins: tuple[str, ...] = ()
    """Origins allowed to call the API from a browser (CORS), e.g. `https://app.example.com`; `*` for any.
    From the environment: comma-separated. Empty (the default): no CORS headers."""
    ws_auth_check_s: float = Field(default=5.0, gt=0)
    """How often an open WebSocket checks that its key is still valid (a key revoked through this server
    closes its sockets at once; through another process, within this many seconds)."""
    auth_cache_s: float = Field(default=0.0, ge=0)
    """How long a verified API key is trusted in this process without asking the store. 0 (the default):
    every request checks the store, so a key revoked by any process is refused on its next request. Above
    0, a key revoked by another process (the CLI, another server) still works up to that long here."""

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
        return value

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
            raise ConfigurationError(f"{_ENV_PREFIX}{field.upper()}: {err['msg']}") from None
