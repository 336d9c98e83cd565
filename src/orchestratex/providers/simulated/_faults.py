"""`Faults`: the errors the simulator injects, at random rates or scripted one by one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ...catalog import ModelProfile
from ...exceptions import (
    ConfigurationError,
    ContentFiltered,
    ContextLengthExceeded,
    ProviderError,
    ProviderServerError,
    ProviderTimeout,
    RateLimited,
    UserError,
)

__all__ = ["FaultKind", "Faults", "fault_error"]

FaultKind = Literal["timeout", "rate_limit", "server_error", "context_length", "content_filter"]
"""The faults the simulator can raise, each mapped to the exception a real adapter would raise."""

FAULT_KINDS: Final[tuple[str, ...]] = get_args(FaultKind)


class Faults(BaseModel):
    """Faults injected by a `SimulatedProvider`.

    Random faults happen with the given probability per call. They are deterministic for the
    provider's seed: the draw depends on the seed, the model, the messages and how many times that
    same request was tried before, so a retry of a failed request can succeed (and does so at the
    same attempt in every run).

    Scripted faults happen exactly, in order, on the next calls to a model:

    ```python
    faults = Faults().fail_next("sim:gpt-4.1", "rate_limit", times=2)
    ```
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, defer_build=True)

    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    """Probability that a call raises `ProviderTimeout`."""
    rate_limit_rate: float = Field(default=0.0, ge=0, le=1)
    """Probability that a call raises `RateLimited` (HTTP 429)."""
    server_error_rate: float = Field(default=0.0, ge=0, le=1)
    """Probability that a call raises `ProviderServerError` (HTTP 503)."""
    retry_after: float = Field(default=1.0, ge=0)
    """Seconds carried by `RateLimited.retry_after` (and its `retry-after` header)."""
    models: set[str] | None = None
    """Only these models fail at random (full names, provider model ids or aliases); `None`: all models."""
    script: dict[str, list[FaultKind]] = Field(default_factory=dict)
    """Faults to raise on the next calls to a model, in order, whatever the rates: `{"sim:gpt-4.1": ["timeout"]}`."""

    if not TYPE_CHECKING:  # (type checkers keep the fields' signature)

        def __init__(self, **data: Any) -> None:
            """A bad setting is a `ConfigurationError` naming it, as `fail_next`'s and `SimulatedProvider`'s are (it was
            pydantic's `ValidationError`, whose own check of the rates' total read "Value error, …")."""
            try:
                super().__init__(**data)
            except ValidationError as exc:
                raise ConfigurationError(f"Faults: {_first_error(exc)}") from None

        def __setattr__(self, name: str, value: Any) -> None:
            """A bad value is refused and the setting stays as it was (a rate that broke the rates' total was kept,
            though refused: every later call failed at that rate)."""
            before = self.__dict__.get(name)
            try:
                super().__setattr__(name, value)
            except ValidationError as exc:
                if name in self.__dict__:
                    self.__dict__[name] = before
                raise ConfigurationError(f"Faults: {_first_error(exc)}") from None

    @model_validator(mode="after")
    def _check_total(self) -> Faults:
        total = self.timeout_rate + self.rate_limit_rate + self.server_error_rate
        if total > 1.0 + 1e-9:
            raise UserError(f"timeout_rate + rate_limit_rate + server_error_rate must be at most 1, got {total:g}")
        return self

    @property
    def total_rate(self) -> float:
        """The probability that a call to an affected model fails at random."""
        return self.timeout_rate + self.rate_limit_rate + self.server_error_rate

    def fail_next(self, model: str, kind: FaultKind, times: int = 1) -> Faults:
        """Make the next `times` calls to `model` raise `kind` (after any faults already scripted); returns self."""
        if kind not in FAULT_KINDS:
            raise ConfigurationError(f"unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}")
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise ConfigurationError(f"times must be a positive integer, got {times!r}")
        if not isinstance(model, str) or not model:
            raise ConfigurationError(f"model must be a model name, got {model!r}")
        self.script.setdefault(model, []).extend([kind] * times)
        return self

    def pending(self, model: str) -> list[FaultKind]:
        """The scripted faults still waiting for `model` (as keyed in `script`)."""
        return list(self.script.get(model, ()))

    def applies_to(self, model: ModelProfile) -> bool:
        """Whether random faults can hit `model`."""
        names = self.models
        if names is None:
            return True
        return model.name in names or model.version in names or any(a in names for a in model.aliases)

    def take_scripted(self, model: ModelProfile) -> FaultKind | None:
        """Remove and return the next scripted fault for `model`, if any."""
        script = self.script
        if not script:
            return None
        for key in (model.name, model.version, *model.aliases):
            queue = script.get(key)
            if queue:
                return queue.pop(0)
        return None


def _first_error(exc: ValidationError) -> str:
    """The first error of `exc` as "<field>: <message>" (a check of the model's own: its message alone)."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    cause = (err.get("ctx") or {}).get("error")
    msg = str(cause) if err["type"] == "value_error" and cause is not None else str(err["msg"])
    return f"{where}: {msg}" if where else msg


def fault_error(kind: str, model: ModelProfile, *, retry_after: float, detail: str = "") -> ProviderError:
    """The exception a real adapter would raise for `kind`, with model and provider set."""
    where = f"{model.name} (simulated)"
    extra = f": {detail}" if detail else ""
    name, provider = model.name, model.provider
    if kind == "timeout":
        return ProviderTimeout(
            f"simulated timeout: {where} did not answer in time{extra}", model=name, provider=provider
        )
    if kind == "rate_limit":
        return RateLimited(
            f"simulated rate limit (429) from {where}; retry after {retry_after:g} s{extra}",
            retry_after=retry_after,
            status_code=429,
            headers={"retry-after": f"{retry_after:g}"},
            body={"error": {"type": "rate_limit_error", "message": "simulated"}},
            model=name,
            provider=provider,
        )
    if kind == "server_error":
        return ProviderServerError(
            f"simulated server error (503) from {where}{extra}",
            status_code=503,
            body={"error": {"type": "overloaded", "message": "simulated"}},
            model=name,
            provider=provider,
        )
    if kind == "context_length":
        return ContextLengthExceeded(
            f"simulated context length exceeded (400) for {where}{extra}",
            status_code=400,
            body={"error": {"type": "context_length_exceeded", "message": "simulated"}},
            model=name,
            provider=provider,
        )
    if kind == "content_filter":
        return ContentFiltered(
            f"simulated content filter (400) from {where}{extra}",
            status_code=400,
            body={"error": {"type": "content_filter", "message": "simulated"}},
            model=name,
            provider=provider,
        )
    raise ConfigurationError(f"unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}")
