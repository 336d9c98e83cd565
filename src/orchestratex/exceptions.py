"""The one exception tree of OrchestrateX.

```
OrchestrateXError
├── UserError                     you used it wrong; the message says how to fix it
│   ├── ConfigurationError        bad settings, catalog or store URL
│   ├── ProviderNotConfigured     a provider's API key (or SDK) is missing
│   ├── UnknownModelError         a model name not in the catalog
│   └── UnknownPriceError         a model without a price: costs are never silently $0
├── ProviderError                 a model call failed
│   ├── ProviderHTTPError         the provider answered with an HTTP error
│   │   ├── AuthenticationError   401/403: never retried
│   │   ├── RateLimited           429: retried, honouring Retry-After
│   │   ├── ProviderServerError   5xx (Anthropic 529): retried with backoff, honouring Retry-After
│   │   ├── ContextLengthExceeded the prompt does not fit: fall back to a larger window
│   │   ├── ContentFiltered       the provider refused the content: recorded, then fallback
│   │   └── ModelNotFound         404: the server does not serve the model (an Ollama model not pulled)
│   ├── ProviderTimeout           no answer in time: retried with backoff
│   ├── ProviderConnectionError   could not reach the provider: retried with backoff
│   ├── MalformedResponse         the body could not be understood
│   │   └── EmptyAnswer           the model answered no text: a failed attempt, not judged
│   └── CircuitOpen               the model failed repeatedly and is cooling down
├── EvaluationError               no judge produced a usable verdict
├── BudgetExceeded                no call fits what is left of the budget
├── StoreError                    the store failed
│   ├── StoreUnavailable          the database cannot be reached (after bounded retries)
│   │   └── StoreFull             the disk holding the database is full: free some space
│   ├── NotFound                  no such record
│   └── Conflict                  the record changed under us (invalid transition, lease held)
└── OrchestrationCancelled        the run was cancelled
```

Adapters translate vendor exceptions into this tree at their edge; the server maps it to HTTP
status codes in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .usage import Usage

__all__ = [
    "AuthenticationError",
    "BudgetExceeded",
    "CircuitOpen",
    "ConfigurationError",
    "Conflict",
    "ContentFiltered",
    "ContextLengthExceeded",
    "EmptyAnswer",
    "EvaluationError",
    "MalformedResponse",
    "ModelNotFound",
    "NotFound",
    "OrchestrateXError",
    "OrchestrationCancelled",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderNotConfigured",
    "ProviderServerError",
    "ProviderTimeout",
    "RateLimited",
    "StoreError",
    "StoreFull",
    "StoreUnavailable",
    "UnknownModelError",
    "UnknownPriceError",
    "UserError",
]


class OrchestrateXError(Exception):
    """Base class of every error raised by OrchestrateX."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        """What went wrong (also `str(error)`)."""

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle (and `copy`) as the error it is: its message and attributes, without calling `__init__` again
        (which takes keyword-only arguments, or builds the message from its own), so an error raised in a worker
        process reaches the parent whole."""
        return _rebuild, (type(self), self.args), self.__dict__


def _rebuild(cls: type[OrchestrateXError], args: tuple[object, ...]) -> OrchestrateXError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    return error


class UserError(OrchestrateXError, ValueError):
    """The library was used wrongly; the message says what to change. (Also a `ValueError`: a bad argument.)"""


class ConfigurationError(UserError):
    """Invalid settings, catalog file or store URL."""


class ProviderNotConfigured(UserError):
    """A provider cannot be used: its API key or its adapter package is missing."""

    def __init__(self, message: str, *, provider: str, env_var: str | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        """The provider that cannot be used."""
        self.env_var = env_var
        """The environment variable that would configure it, when one would."""


_LISTED = 30
"""The most model names an `UnknownModelError` lists: a catalog of hundreds (OpenRouter's models, say) made a message
of thousands of characters in which the name one meant could not be found."""
_CLOSEST = 10
"""The most names listed of a longer catalog: the closest to the name given, else the first."""


def _listing(name: str, known: list[str]) -> str:
    """`known`, sorted, when it is short; else the names closest to `name` (by full name or bare model id) or the
    first few, saying how many there are and where to see them all."""
    names = sorted(set(known))
    if len(names) <= _LISTED:
        return ", ".join(names)
    import difflib

    wanted = name.strip().casefold()[:200]  # (a 60 KB name compared with hundreds would take seconds)
    by_id: dict[str, list[str]] = {}
    for full in names:
        by_id.setdefault(full.partition(":")[2].casefold() or full.casefold(), []).append(full)
        by_id.setdefault(full.casefold(), []).append(full)
    started = [full for key, fulls in by_id.items() if len(wanted) >= 3 and key.startswith(wanted) for full in fulls]
    close = [full for key in difflib.get_close_matches(wanted, list(by_id), n=8, cutoff=0.6) for full in by_id[key]]
    shown = list(dict.fromkeys([*sorted(started), *close]))[:_CLOSEST]
    where = "list(catalog) or `orchestratex models` lists them all"
    if shown:
        return f"{', '.join(shown)} (the closest of {len(names)}; {where})"
    return f"{', '.join(names[:_CLOSEST])}, … ({_CLOSEST} of {len(names)}; {where})"


class UnknownModelError(UserError):
    """A model name (or alias) that the catalog does not know, a bare model id that several of its models share
    (`ambiguous`: their full names), or (`unserved`: its full name) a model of the catalog that this orchestrator
    cannot use, its provider not being in use (no API key set, say)."""

    def __init__(
        self,
        name: str,
        known: list[str] | None = None,
        *,
        unserved: str | None = None,
        meant: str | None = None,
        ambiguous: list[str] | None = None,
    ) -> None:
        hint = f"; known models: {_listing(name, known)}" if known else ""
        if meant is not None:  # (`GPT4` for the alias `gpt4`: the list of full names did not show the alias)
            hint = f": did you mean {meant!r}? (names and aliases are matched exactly){hint}"
        if ambiguous:  # (the same model behind two endpoints: `dear:llama` and `cheap:llama`)
            message = (
                f"model {name!r} is ambiguous: it is the model id of {len(ambiguous)} models of the catalog "
                f"({', '.join(sorted(ambiguous))}); name one in full"
            )
            hint = ""
        elif unserved is not None:  # a model of the catalog whose provider is left out (no key set, say)
            provider = unserved.partition(":")[0]
            in_use = ", ".join(sorted({k.partition(":")[0] for k in known or ()})) or "none"
            message = (
                f"model {name!r} is {unserved}, whose provider {provider!r} is not in use here (a provider is used "
                f"once its API key is set and its adapter installed; in use: {in_use})"
            )
            hint = f"; usable models: {_listing(name, known)}" if known else ""
        else:
            message = f"unknown model {name!r}"
        super().__init__(message + hint)
        self.name = name
        """The name that was looked up."""
        self.unserved = unserved
        """The full name of the catalog's model `name` stands for, when its provider is not in use (else None)."""
        self.meant = meant
        """The alias `name` differs from only in case, if any."""
        self.ambiguous = ambiguous
        """The full names of the models whose model id `name` is, when it is several's (else None)."""


class UnknownPriceError(UserError):
    """A model has no price: OrchestrateX never counts a call as free by accident."""


class ProviderError(OrchestrateXError):
    """A call to a model failed."""

    retryable: bool = False
    """Whether the orchestrator retries the same model before falling back."""

    def __init__(self, message: str, *, model: str | None = None, provider: str | None = None) -> None:
        super().__init__(message)
        self.model = model
        """The model whose call failed, when known."""
        self.provider = provider
        """The provider that served the call, when known."""


class ProviderHTTPError(ProviderError):
    """The provider answered with an HTTP error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: object = None,
        headers: Mapping[str, str] | None = None,
        model: str | None = None,
        provider: str | None = None,
    ) -> None:
        super().__init__(message, model=model, provider=provider)
        self.status_code = status_code
        """The HTTP status of the provider's answer."""
        self.body = body
        """The body of the provider's error answer, as the adapter received it."""
        self.headers = dict(headers or {})
        """The headers of the provider's answer."""


class AuthenticationError(ProviderHTTPError):
    """401/403: the key is missing, wrong or lacks permission. Never retried."""

    def __init__(self, message: str, *, key_rejected: bool | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.key_rejected = key_rejected
        """True when the provider's own code says the API key itself is refused (OpenAI's `invalid_api_key`,
        Anthropic's `authentication_error`, Gemini's `API_KEY_INVALID`, an account blocked): the provider's other
        models, sent the same key, are asked no more in the run. False when the key is good but not for this model.
        None when the adapter cannot tell: the orchestrator then reads a 401 (Gemini: a 400) as a refused key unless
        its message speaks of a model (a gateway's key allowed some models only), and a 403 as a refusal of this call
        alone."""


class RateLimited(ProviderHTTPError):
    """429: too many requests. Retried after `retry_after` seconds when the provider says so."""

    retryable = True
    """True: retried after `retry_after`, with backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        kwargs.setdefault("status_code", 429)
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after
        """Seconds the provider asked to wait (its `Retry-After`), when it said."""


class ProviderServerError(ProviderHTTPError):
    """5xx (and Anthropic's 529 overloaded): the provider failed. Retried with exponential backoff, waiting at least
    `retry_after` seconds when the provider says so (a 503 or 529 often carries `Retry-After`)."""

    retryable = True
    """True: retried with backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after
        """Seconds the provider asked to wait (its `Retry-After`), when it said."""


class ContextLengthExceeded(ProviderHTTPError):
    """The prompt does not fit the model's context window: the orchestrator falls back to a larger one."""


class ContentFiltered(ProviderHTTPError):
    """The provider refused the prompt or the answer on content grounds: recorded, then fallback. `usage` is what the
    provider reported the call used, when it answered with usage (a refusal or a withheld answer is billed as any
    answer): the orchestrator counts its cost."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: object = None,
        headers: Mapping[str, str] | None = None,
        model: str | None = None,
        provider: str | None = None,
        usage: Usage | None = None,
        reported_cost: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, body=body, headers=headers, model=model, provider=provider)
        self.usage = usage
        """The tokens the provider reported for the refused call, when it reported them."""
        self.reported_cost = reported_cost
        """What the provider billed for the refused call, when it said so or its adapter knows it is not the catalog
        price of `usage` (OpenRouter's `usage.cost`, a prompt-cache write, US-only inference, a service tier): the
        orchestrator counts it instead, as it does an answer's `Generation.reported_cost`."""
        self.cost: float = 0.0
        """What the orchestrator counted for the call once it priced `usage` (0 before, or without usage): a judge's
        verdict carries it, so that the evaluation's cost is what its judges were billed."""


class ModelNotFound(ProviderHTTPError):
    """404: the provider's server does not serve the model (an Ollama model not pulled, a model id a vLLM server was not
    started with, an OpenAI model retired): never retried, the orchestrator falls back to another model."""


class ProviderTimeout(ProviderError):
    """The provider did not answer in time. Retried with backoff."""

    retryable = True
    """True: retried with backoff."""


class ProviderConnectionError(ProviderError):
    """The provider could not be reached. Retried with backoff."""

    retryable = True
    """True: retried with backoff."""


class MalformedResponse(ProviderError):
    """The provider's answer could not be understood."""


class EmptyAnswer(MalformedResponse):
    """The model answered no text (empty, or only whitespace): its cost is counted, the answer is never judged,
    and the run falls back to another model. The model may still judge other models' answers."""


class CircuitOpen(ProviderError):
    """The model failed repeatedly and is kept out of routing while it cools down."""


class EvaluationError(OrchestrateXError):
    """No judge produced a usable verdict (e.g. nothing in the judges' answers parsed as a score)."""


class BudgetExceeded(OrchestrateXError):
    """No model call fits in what is left of the budget."""

    def __init__(self, message: str, *, remaining: float | None = None, needed: float | None = None) -> None:
        super().__init__(message)
        self.remaining = remaining
        """US dollars left of the budget, when known."""
        self.needed = needed
        """US dollars the call's worst case needed, when known."""


class StoreError(OrchestrateXError):
    """The store failed or is unreachable."""


class StoreUnavailable(StoreError):
    """The database cannot be reached, even after bounded retries; nothing was half-written."""


class StoreFull(StoreUnavailable):
    """The disk holding the database is full (SQLite's `SQLITE_FULL`): nothing was written, and a write will fail
    until some space is freed. Retried as any `StoreUnavailable` (space may be freed meanwhile)."""


class NotFound(StoreError):
    """No record with that id (or not visible to the caller)."""


class Conflict(StoreError):
    """The request conflicts with the record's state: an invalid status transition, a held lease."""


class OrchestrationCancelled(OrchestrateXError):
    """The orchestration was cancelled before it finished. Not raised by a run: `run`, `run_sync`, `drive` and a
    stream give a cancelled run's `RunResult` (`status == "cancelled"`); for code of one's own (the server answers
    it with 409)."""
