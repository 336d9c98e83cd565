"""The `Provider` contract: one vendor's connection and protocol, behind one async method."""

from __future__ import annotations

import numbers
import os
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import ClassVar, Literal, Self, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._plain import as_count
from .._shown import shown_url
from ..catalog import ModelProfile
from ..exceptions import UserError
from ..usage import Usage
from ._support import env_value

__all__ = [
    "FunctionMisused",
    "Generation",
    "GenerationRequest",
    "Message",
    "Provider",
    "RequestsBlocked",
    "TestSetupError",
    "TextSink",
    "check_allow_model_requests",
    "checked_generation",
    "counted_input_tokens",
    "estimate_input_tokens",
    "estimate_message_tokens",
    "least_output_tokens",
]


class TestSetupError(UserError):
    """A mistake of a test's own setup met as a run calls a model: not a failure of the model, which a run would fall
    back from or record as a failed verdict, but one that `run()` raises (after storing the run failed) so that the
    test fails loudly, as docs/testing.md says."""

    __test__ = False  # (not a test class for pytest, where a test module imports it)


class RequestsBlocked(TestSetupError):
    """A real model request refused by `ALLOW_MODEL_REQUESTS = False`: a test that forgot its test double."""


class FunctionMisused(TestSetupError):
    """A `FunctionProvider` whose function returned what no model answers (a `dict`, `None`, …), or whose
    `count_tokens` returned no count: a bug of the test double, which a run fell back from (or, for a judge, recorded
    as a failed verdict) as from a model's failure, so that the test passed or failed for another reason."""


def check_allow_model_requests() -> None:
    """Raise when real model requests are switched off (`orchestratex.providers.ALLOW_MODEL_REQUESTS`)."""
    from . import ALLOW_MODEL_REQUESTS as allowed  # read at call time so tests can flip it

    if not allowed:
        raise RequestsBlocked("real model requests are disabled: orchestratex.providers.ALLOW_MODEL_REQUESTS is False")


TextSink: TypeAlias = Callable[[str], Awaitable[None]]
"""Receives each piece of an answer's text as the model produces it (`Provider.generate_stream`)."""


class Message(BaseModel):
    """One message of a conversation."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    role: Literal["system", "user", "assistant"]
    """`system`, `user` or `assistant`."""
    content: str
    """The message's text."""


class GenerationRequest(BaseModel):
    """What to ask one model."""

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)

    model: ModelProfile
    """The model to ask (its profile: name, prices, limits)."""
    messages: list[Message]
    """The conversation to answer, ending with the user message."""
    max_output_tokens: int = Field(default=2048, ge=1)
    """The call's output cap: the most the model may write (what the budget reserved for)."""
    temperature: float | None = None
    """The sampling temperature, or None for the provider's default (judges are sent 0)."""
    stop: list[str] | None = None
    """Where the model should stop writing, if anywhere."""
    json_output: bool = False
    """Ask for a JSON object (judges use it); providers that support structured output enforce it."""
    purpose: Literal["generate", "judge"] = "generate"
    """`generate` for an answer, `judge` for a verdict."""
    domain: str = "general"
    """The task's domain: informational for real providers, used by the simulator."""

    @property
    def system(self) -> str | None:
        """The system messages' text, joined; None when there is none."""
        parts = [m.content for m in self.messages if m.role == "system"]
        return "\n\n".join(parts) if parts else None


class Generation(BaseModel):
    """A model's answer: text, exact token usage, latency and why it stopped."""

    model_config = ConfigDict(defer_build=True)

    text: str
    """The answer."""
    usage: Usage = Field(default_factory=Usage)
    """The tokens the call used, as the provider reported them."""
    latency_ms: float = 0.0
    """How long the call took, in milliseconds."""
    finish_reason: str | None = None
    """`stop`, `length`, `content_filter`, … as normalised by the adapter."""
    model_name: str = ""
    """The full name of the model asked (`openai:gpt-4.1`)."""
    cost: float = 0.0
    """What the call costs, in US dollars. An adapter sets it to `request.model.cost(usage)` (the catalog's price of
    `usage`; the contract suite checks it); the orchestrator then sets it to what it counts: `reported_cost` when the
    provider reported one, else `catalog_cost`."""
    response_model: str | None = None
    """The model the provider says answered, when it says (OpenAI's and OpenRouter's `model`, Anthropic's `model`,
    Gemini's `model_version`): a dated snapshot of the model asked for (`gpt-4o-2024-08-06` for `gpt-4o`), or the
    model a router picked (`openrouter/auto`). Traces report it as `gen_ai.response.model`."""
    reported_cost: float | None = Field(default=None, ge=0)
    """The cost the provider itself reported for this call (e.g. OpenRouter's `usage.cost`), when it
    reports one; a provider (or a `FunctionProvider` function) sets it, and the orchestrator counts it."""
    catalog_cost: float | None = None
    """The cost of `usage` at the catalog's prices, filled in by the orchestrator."""


def estimate_input_tokens(request: GenerationRequest) -> int:
    """An upper bound of the input tokens of `request`, without a tokenizer.

    Every BPE token covers at least one byte, so the UTF-8 length plus a per-message overhead
    bounds the count. The budget reserves against this bound, which is why spending never
    exceeds the limit.
    """
    return estimate_message_tokens(request.messages)


def estimate_message_tokens(messages: Sequence[Message]) -> int:
    """`estimate_input_tokens` for bare messages."""
    # an ASCII text's length is its UTF-8 length (`str.isascii` reads a flag: no copy, no scan)
    return sum((len(c) if (c := m.content).isascii() else len(c.encode("utf-8"))) + 8 for m in messages) + 8


class Provider(ABC):
    """Connection and protocol for one vendor.

    Subclasses implement `generate`. Adapters map every vendor error to `orchestratex.exceptions`
    and switch their SDK's own retries off: the orchestrator is the one retry owner.
    """

    name: ClassVar[str] = ""
    """The provider name used in model names (`openai` in `openai:gpt-4.1`)."""
    env_vars: ClassVar[tuple[str, ...]] = ()
    """Environment variables that configure the provider (any one suffices)."""
    simulated: ClassVar[bool] = False
    """True for a provider whose answers are simulated (the offline simulator): its runs say so."""

    @abstractmethod
    async def generate(self, request: GenerationRequest) -> Generation:
        """Generate one answer for `request`, in exactly one HTTP request (no retries: the orchestrator retries).

        Refuse an unpriced model (`UnknownPriceError`) before sending anything; send `request.max_output_tokens` as
        the vendor's output cap. Return the text, the vendor's exact `usage` and `cost=request.model.cost(usage)`.
        Every failure is one of `orchestratex.exceptions` (`http_error` for an error status, whatever its body),
        naming `model=request.model.name` and `provider=self.name`: any other exception ends the run.
        """

    async def generate_stream(self, request: GenerationRequest, on_text: TextSink) -> Generation:
        """Generate like `generate`, handing each piece of the text to `on_text` as the model produces it,
        and return the complete `Generation` (exact usage) once it has finished.

        The pieces joined are the returned text, handed over in the order they came; the returned `usage` is the
        stream's own count (a stream that ends without it is a `MalformedResponse`). Errors are those of
        `generate`, mapped the same way (a 429 before the stream starts is a `RateLimited` with its
        `retry_after`), from one HTTP request. Override it where the vendor streams; this default hands over the
        whole text as one piece once `generate` has returned, as an override does when the text must be final
        first (a judge's JSON unwrapped, a stop sequence applied by the adapter).
        """
        generation = await self.generate(request)
        if generation.text:
            await on_text(generation.text)
        return generation

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """Build the provider from environment variables, or raise `ProviderNotConfigured` naming them."""
        raise NotImplementedError(f"{cls.__name__}.from_env")

    @classmethod
    def from_config(
        cls,
        name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str | None = None,
        **options: object,
    ) -> Provider:
        """A provider serving the endpoint `name` of a catalog file (`[providers.NAME]` with `kind` naming this
        class's entry point): models called `NAME:<model id>` go to `base_url`, with `api_key` when given."""
        raise NotImplementedError(f"{cls.__name__}.from_config: this provider cannot serve a named endpoint")

    @classmethod
    def is_configured(cls, env: Mapping[str, str] | None = None) -> bool:
        """Whether the environment holds what `from_env` needs."""
        env = os.environ if env is None else env
        return any(env_value(env, var) for var in cls.env_vars)

    def count_input_tokens(self, request: GenerationRequest) -> int:
        """An upper bound of the input tokens (used to reserve budget); override with an exact tokenizer."""
        return estimate_input_tokens(request)

    def min_output_tokens(self, model: ModelProfile) -> int:
        """The smallest output cap (`max_output_tokens`) a call to `model` may be sent: the vendor refuses a smaller
        one (OpenAI's Responses API: 16). The orchestrator sends, and reserves the budget for, at least that many; a
        request with a smaller cap is refused before anything is sent. 1 unless the vendor sets a floor."""
        return 1

    def _counts_bytes(self) -> bool:
        """Whether `count_input_tokens` is `estimate_input_tokens` (the same for every model and request
        with the same messages), so the orchestrator may count once for all of this provider's models."""
        return type(self).count_input_tokens is Provider.count_input_tokens

    def _message_bound(self, messages: Sequence[Message]) -> int | None:
        """`count_input_tokens` of any request with these `messages` when it depends on nothing else (not on the
        model: the orchestrator then counts a prompt once for all this provider's models), else None."""
        return estimate_message_tokens(messages) if self._counts_bytes() else None

    async def aclose(self) -> None:
        """Release connections this provider opened (never an injected client)."""
        return None

    def __repr__(self) -> str:
        """Its class, name and server (`OpenAIProvider(name='openai', base_url='https://api.openai.com/v1/')`), not
        `<… object at 0x…>`; never a key, nor a password or a key-, token- or secret-named query parameter of the
        server's URL (`?api-key=***`)."""
        base_url = getattr(self, "base_url", None)
        server = f", base_url={shown_url(base_url)!r}" if isinstance(base_url, str) else ""
        return f"{type(self).__name__}(name={self.name!r}{server})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def counted_input_tokens(provider: Provider, request: GenerationRequest) -> int:
    """`provider.count_input_tokens(request)` when it is a count of tokens (an int >= 0): `UserError` naming the
    provider otherwise. (A provider of one's own whose count returned -1000 reserved no budget for its calls and
    judges, 3.5 a fractional one, "12" or None failed the run with a TypeError; `FunctionProvider(count_tokens=...)`
    was already checked.)"""
    counted = provider.count_input_tokens(request)
    if type(counted) is int and counted >= 0:
        return counted
    tokens = as_count(counted)  # (an int, numpy's too; not a float, a str or a bool)
    if tokens is None:
        raise UserError(
            f"{type(provider).__name__}.count_input_tokens returned {counted!r}: return an upper bound of the "
            "request's input tokens as an int >= 0 (it reserves the budget for the call)"
        )
    return tokens


def least_output_tokens(provider: Provider, model: ModelProfile) -> int:
    """`provider.min_output_tokens(model)` when it is a number of tokens (an int >= 0): `UserError` naming the provider
    otherwise. (One whose `return` was forgotten failed the run with "'<' not supported between instances of 'int' and
    'NoneType'"; 16.5 could be sent as a request's `max_output_tokens`.)"""
    least = provider.min_output_tokens(model)
    if type(least) is int and least >= 0:
        return least
    tokens = as_count(least)
    if tokens is None:
        raise UserError(
            f"{type(provider).__name__}.min_output_tokens returned {least!r} for {model.name}: return the smallest "
            "output cap its API takes, an int >= 1 (the default, 1, sets no floor)"
        )
    return tokens


def checked_generation(provider: Provider, gen: object) -> Generation:
    """`gen`, what `provider.generate` returned, when it is a valid `Generation`: `TypeError` naming `generate` when it
    is anything else (a dict, a str); a validated copy when a field the run copies into its records unvalidated (its
    events, call records and iterations are made sealed) is not of its type — a `Generation` validates nothing
    assigned to it after it is built (`gen.latency_ms = 12`, a numpy float32) nor given to `model_construct`;
    `ValueError` naming the provider and the field for a value that is not one."""
    if type(gen) is not Generation and not isinstance(gen, Generation):
        raise TypeError(f"{type(provider).__name__}.generate returned {type(gen).__name__}, not a Generation")
    if (
        type(gen.text) is str
        and type(gen.latency_ms) is float
        and gen.latency_ms - gen.latency_ms == 0.0  # (finite: NaN or inf was stored as JSON's null, unreadable)
        and type(gen.usage) is Usage
        and type(gen.model_name) is str
        and (gen.finish_reason is None or type(gen.finish_reason) is str)
        and (gen.reported_cost is None or type(gen.reported_cost) is float)
    ):
        return gen
    name = type(provider).__name__
    data = dict(gen.__dict__)
    usage, reported = data["usage"], data.pop("reported_cost")  # (an unusable cost is ignored: `price_generation`)
    if isinstance(usage, BaseModel):
        data["usage"] = usage.model_dump()
    if reported is not None and (isinstance(reported, bool) or not isinstance(reported, numbers.Real)):
        raise ValueError(f"{name}.generate returned an invalid Generation: reported_cost: {reported!r} is not a cost")
    try:
        checked = type(gen).model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"{name}.generate returned an invalid Generation: {where}: {err['msg']}") from None
    if checked.latency_ms - checked.latency_ms != 0.0:  # (the run's records, then its session's events, unreadable)
        raise ValueError(
            f"{name}.generate returned an invalid Generation: latency_ms: {gen.latency_ms!r} is not a finite number"
        )
    return checked if reported is None else checked.model_copy(update={"reported_cost": float(reported)})
