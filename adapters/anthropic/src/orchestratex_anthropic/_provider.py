"""The connection to Anthropic: key, base URL and the SDK client's lifecycle."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self

import anthropic

from orchestratex.exceptions import (
    MalformedResponse,
    ProviderNotConfigured,
    ProviderTimeout,
    UnknownPriceError,
    UserError,
)
from orchestratex.providers import Generation, GenerationRequest, Provider, TextSink, check_allow_model_requests
from orchestratex.providers._broken_stream import StreamProgress, broken_stream
from orchestratex.providers._loops import LoopClients
from orchestratex.providers._pacing import NoChunkInTime, Paced
from orchestratex.providers._sdk_warnings import SDKWarnings
from orchestratex.providers._support import (
    SYNC_CLIENT,
    checked_api_key,
    checked_base_url,
    checked_client,
    checked_http_client,
    checked_http_environment,
    checked_timeout,
    env_timeout,
    env_value,
    server_named,
    time_to_write,
    without_query,
)

from ._errors import map_anthropic_errors
from ._mapping import generation_from_message, message_params

if TYPE_CHECKING:
    import httpx2
    from anthropic.types import Message

__all__ = ["AnthropicProvider"]


_STREAMING_REQUIRED = "Streaming is required"
_SECONDS_PER_TOKEN = 60 * 60 / 128_000
"""The SDK's reckoning of how long an answer may take to write, per output token (an hour for 128,000)."""
"""How the SDK refuses, before sending it, an unstreamed call whose answer may take more than 10 minutes."""


_logger = logging.getLogger("orchestratex.providers.anthropic")

_DEPRECATED = r"The model '[^']*' is deprecated"
"""How the SDK warns, at every call, of a model it lists as deprecated ("The model 'claude-opus-4-5' is deprecated and
will reach end-of-life on January 22nd, 2027. …"): logged once per model instead (`SDKWarnings`)."""


async def _ignore(text: str) -> None:
    return None


def _refuses_effort(exc: anthropic.APIStatusError) -> bool:
    """Whether a 400 (422 from a gateway) refuses a judge's `output_config`: a model that takes no effort ("This model
    does not support the effort parameter.", Claude Haiku 4.5 and older models), one that takes other levels only
    ("output_config.effort "low" is not supported by model …"), a gateway that knows no `output_config` ("output_config:
    Extra inputs are not permitted")."""
    said = f"{exc.message} {exc.body}".lower()
    return exc.status_code in (400, 422) and ("effort" in said or "output_config" in said)


def _wants_user_first(exc: anthropic.APIStatusError) -> bool:
    """Whether a 400 refuses a conversation opening with an assistant turn, as Amazon Bedrock does behind a gateway
    (LiteLLM's, a corporate one): "messages: first message must use the "user" role" (Anthropic's own API takes it)."""
    return exc.status_code in (400, 422) and "first message must use the" in f"{exc.message} {exc.body}"


def _delta_text(event: Any) -> str:
    """The text a stream event adds to the answer (a `text_delta`'s), else ''."""
    delta = getattr(event, "delta", None) if getattr(event, "type", None) == "content_block_delta" else None
    text = getattr(delta, "text", None) if getattr(delta, "type", None) == "text_delta" else None
    return text if isinstance(text, str) else ""


class AnthropicProvider(Provider):
    """Claude models through Anthropic's Messages API (`anthropic.AsyncAnthropic().messages.create`).

    The SDK's own retries are off (`max_retries=0`): the orchestrator is the one retry owner.
    `temperature` is not sent: the API version the SDK speaks (2026-10-21) removed it.

    ```python
    from orchestratex_anthropic import AnthropicProvider

    provider = AnthropicProvider(api_key="sk-ant-...")
    ```

    Pass `client=` (an `anthropic.AsyncAnthropic`) or `http_client=` (an `httpx2.AsyncClient`) to
    inject your own; they are never closed by `aclose()`. Otherwise the provider opens one client per
    event loop (connections cannot serve another loop), closed as that loop ends or by `aclose()`. A
    provider that built its own HTTP connection refuses to send anything while
    `orchestratex.providers.ALLOW_MODEL_REQUESTS` is False.
    """

    name: ClassVar[str] = "anthropic"
    env_vars: ClassVar[tuple[str, ...]] = ("ANTHROPIC_API_KEY",)
    api_key_env: ClassVar[str] = "ANTHROPIC_API_KEY"
    """The variable holding the API key (named in authentication errors)."""
    base_url_env: ClassVar[str] = "ANTHROPIC_BASE_URL"
    """The variable that overrides the base URL."""
    default_base_url: ClassVar[str] = "https://api.anthropic.com"
    """Where requests go when no base URL is configured."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        client: anthropic.AsyncAnthropic | None = None,
        http_client: httpx2.AsyncClient | None = None,
        timeout: float | None = 120.0,
    ) -> None:
        timeout = checked_timeout(timeout, provider=self.name)
        self._deadline = None if client is not None else timeout
        """The most an unstreamed call may take in all, and a stream may go without an event (None: no limit, or an
        injected client's own timeouts), more for a stream whose answer may take longer to write (`time_to_write`): the
        SDK's timeout bounds each read, which blank lines or `ping` events sent while a server waits never let run
        out."""
        if client is not None:
            if api_key is not None or base_url is not None or http_client is not None:
                raise UserError("AnthropicProvider: pass either client= or api_key/base_url/http_client, not both")
            checked_client(
                client,
                anthropic.Anthropic,
                provider="AnthropicProvider",
                name="an anthropic.AsyncAnthropic",
                why=SYNC_CLIENT,
            )
            sdk = client.with_options(max_retries=0)
            self._clients = LoopClients(sdk)
        else:
            where = f"{self.api_key_env} or api_key="
            api_key = checked_api_key(
                api_key or env_value(os.environ, self.api_key_env), provider=self.name, where=where
            )
            if not api_key:
                raise self._not_configured()
            where = "base_url" if base_url else self.base_url_env
            base_url = str(
                base_url or env_value(os.environ, self.base_url_env) or self.default_base_url
            )  # (an httpx URL)
            checked_base_url(base_url, provider=self.name, where=where)  # (not at every call, as a connection error)
            base_url, query = without_query(base_url)  # (the SDK joined /v1/messages after it)
            build = functools.partial(
                anthropic.AsyncAnthropic,
                api_key=api_key,
                base_url=base_url,
                default_query=query,
                max_retries=0,
                timeout=timeout,
            )
            checked_http_client(
                http_client, provider=type(self).__name__, name="an httpx2.AsyncClient", takes=("httpx2",)
            )
            if http_client is None:  # (the SDK makes its HTTP client, with the environment's proxy)
                checked_http_environment(self.name)
            sdk = build(http_client=http_client)
            self._clients = LoopClients.unless_injected(
                sdk, build, lambda own: own.close(), injected=http_client is not None
            )
        self._owns_connection = self._clients.owned
        self._sdk_warnings = SDKWarnings(_logger, self.name, DeprecationWarning, _DEPRECATED)
        self.user_first = False
        """Whether the server takes only a conversation opening with a user turn (Amazon Bedrock's, behind a gateway:
        "messages: first message must use the "user" role"): one opening with an assistant turn gets a user turn
        before it."""
        self.without_effort: set[str] = set()
        """Model ids that refused a judge's effort (`output_config`): their judges are sent none, and think as much as
        they would."""
        self.base_url: str = str(sdk.base_url)
        """The server the provider talks to."""
        self._at = server_named(self.base_url, self.default_base_url)
        key = getattr(sdk, "api_key", None)
        self._api_key: str | None = key if isinstance(key, str) else None
        """The key the calls carry: masked where an error answer quotes it."""

    @property
    def _client(self) -> anthropic.AsyncAnthropic:
        """The SDK client of the running event loop (its connections cannot serve another loop)."""
        return self._clients.current()

    @classmethod
    def _not_configured(cls) -> ProviderNotConfigured:
        return ProviderNotConfigured(
            f"anthropic: no API key; set {cls.api_key_env} (or pass api_key=)",
            provider=cls.name,
            env_var=cls.api_key_env,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """The provider configured by `env` (default: `os.environ`), or `ProviderNotConfigured` naming the variable."""
        env = os.environ if env is None else env
        api_key = env_value(env, cls.api_key_env)
        if not api_key:
            raise cls._not_configured()
        base_url = env_value(env, cls.base_url_env)
        if base_url is not None:
            checked_base_url(base_url, provider=cls.name, where=cls.base_url_env)
        return cls(api_key=api_key, base_url=base_url or cls.default_base_url, timeout=env_timeout(env))

    async def generate(self, request: GenerationRequest) -> Generation:
        """One Messages API call to `request.model.version`; errors are mapped to `orchestratex.exceptions`."""
        model = request.model
        if not model.priced:
            raise UnknownPriceError(f"model {model.name!r} has no price: set input_cost_per_1k and output_cost_per_1k")
        if self._owns_connection:
            check_allow_model_requests()
        closes = self._clients.closes
        with map_anthropic_errors(
            provider=self.name,
            model=model.name,
            api_key_env=self.api_key_env,
            at=self._at,
            api_key=self._api_key,
            closed=lambda: self._clients.closes != closes,
        ):
            start = time.perf_counter()
            message = await self._adapting(request, self._answer)
            latency_ms = (time.perf_counter() - start) * 1000
            generation = generation_from_message(message, request)
        generation.latency_ms = latency_ms
        return generation

    async def _adapting(
        self, request: GenerationRequest, call: Callable[[dict[str, Any]], Awaitable[Message]]
    ) -> Message:
        """`call(message_params(request))`; a judge call whose model refuses its effort (`_refuses_effort`: refused
        before anything was written) is made again without it, and that model's judges are sent none from then on. A
        conversation opening with an assistant turn that the server refuses (`_wants_user_first`) is sent again with a
        user turn before it, and so every such conversation from then on (`user_first`)."""
        while True:
            effort = request.model.version not in self.without_effort
            params = message_params(request, effort=effort, user_first=self.user_first)
            try:
                return await call(params)
            except anthropic.APIStatusError as exc:
                if "output_config" in params and _refuses_effort(exc):
                    self.without_effort.add(request.model.version)
                elif params["messages"][0]["role"] == "assistant" and _wants_user_first(exc):
                    self.user_first = True
                else:
                    raise

    async def _answer(self, params: dict[str, Any]) -> Message:
        """The answer to `params`, unstreamed, or streamed when it may take longer to write than the read timeout."""
        try:
            if self._may_outlast_its_timeout(params["max_tokens"]):
                return await self._streamed(params, _ignore)
            return await self._unstreamed(params)
        except ValueError as exc:
            if not str(exc).startswith(_STREAMING_REQUIRED):
                raise
            # (an SDK client with its default timeout, as `client=` injects one, refuses an answer of more than
            # about 21,000 tokens unstreamed, before sending anything: the SDK's way is a stream)
            return await self._streamed(params, _ignore)

    async def _unstreamed(self, params: dict[str, Any]) -> Message:
        """`client.messages.create(**params)`, within the provider's `timeout` in all: the SDK's timeout bounds each
        read, which a server keeping the connection alive with blank lines until its answer is ready never lets run out
        (DeepSeek's Anthropic API, `ANTHROPIC_BASE_URL=https://api.deepseek.com/anthropic`, does so under load, for up
        to 30 minutes)."""
        waiting = asyncio.timeout(self._deadline)
        try:
            async with waiting:
                return await self._sdk_warnings.call(self._client.messages.create(**params))
        except TimeoutError:
            if not waiting.expired():
                raise
            raise ProviderTimeout(
                f"{self.name}{self._at} did not answer in {self._deadline:g} s (the connection was kept open without an"
                " answer)",
                provider=self.name,
            ) from None

    def _may_outlast_its_timeout(self, max_tokens: int) -> bool:
        """Whether an unstreamed call allowed `max_tokens` may take longer than the client's read timeout (`timeout=`,
        120 s by default), by the SDK's own reckoning of an answer's time (an hour for 128,000 tokens): nothing comes
        back until the answer is whole, so such a call timed out, to be retried and billed again, each attempt the
        same. Streamed, as the SDK advises for long answers, its events keep arriving while the model writes."""
        timeout = self._client.timeout
        read = getattr(timeout, "read", timeout)  # (seconds, an httpx Timeout, or None: no limit)
        if isinstance(read, bool) or not isinstance(read, int | float):
            return False
        return _SECONDS_PER_TOKEN * max_tokens > read

    async def _streamed(self, params: dict[str, Any], on_text: TextSink) -> Message:
        """`client.messages.stream(**params)`, each text delta handed to `on_text`; the final message."""
        with self._sdk_warnings.logged():  # (the SDK warns of a deprecated model here)
            streaming = self._client.messages.stream(**params)
        progress = StreamProgress(on_text)
        limit = time_to_write(self._deadline, params["max_tokens"])
        handing = False  # (while `on_text` takes a piece: an AssertionError of its own is not the SDK's)
        async with streaming as stream:
            try:
                # each event within the time limit of the one before: `ping`s (which the SDK drops) do not count
                events: Any = stream if limit is None else Paced(stream, limit)
                async for event in events:
                    text = _delta_text(event)
                    if text:
                        handing = True
                        await progress(text)
                        handing = False
                return await stream.get_final_message()
            except NoChunkInTime as exc:  # (no event in time, pings only)
                raise broken_stream(
                    exc, provider=self.name, at=self._at, received=progress.chars, timed_out=True
                ) from None
            except AssertionError:  # (the SDK's words for a stream without `message_start`: a bare AssertionError)
                if handing:  # (whoever takes the text failed an assertion of its own: passed on as it is)
                    raise
                raise MalformedResponse(
                    "the message stream ended before its message began (no message_start event: an empty body, a"
                    " connection closed after the status, or an answer that is not server-sent events)"
                ) from None
            except anthropic.APIConnectionError as exc:  # (a reset, a read timeout: not "cannot reach", it answered)
                raise broken_stream(
                    exc.__cause__ or exc,
                    provider=self.name,  # (the model named by `map_anthropic_errors`)
                    at=self._at,
                    received=progress.chars,
                    timed_out=isinstance(exc, anthropic.APITimeoutError),
                ) from exc

    async def generate_stream(self, request: GenerationRequest, on_text: TextSink) -> Generation:
        """`generate`, streamed (`client.messages.stream`): each text delta goes to `on_text` as it arrives;
        usage and stop reason come from the stream's final message."""
        model = request.model
        if not model.priced:
            raise UnknownPriceError(f"model {model.name!r} has no price: set input_cost_per_1k and output_cost_per_1k")
        if request.json_output or any(not s.strip() for s in request.stop or ()):
            # the JSON object is unwrapped, white-space stops cut, from the whole text: not streamable, one piece
            return await super().generate_stream(request, on_text)
        if self._owns_connection:
            check_allow_model_requests()
        closes = self._clients.closes
        with map_anthropic_errors(
            provider=self.name,
            model=model.name,
            api_key_env=self.api_key_env,
            at=self._at,
            api_key=self._api_key,
            closed=lambda: self._clients.closes != closes,
        ):
            start = time.perf_counter()
            message = await self._adapting(request, lambda params: self._streamed(params, on_text))
            latency_ms = (time.perf_counter() - start) * 1000
            generation = generation_from_message(message, request)
        generation.latency_ms = latency_ms
        return generation

    async def aclose(self) -> None:
        """Close the running loop's SDK client and its connections if this provider created them
        (an injected `client=` or `http_client=` is left open); a later call opens new ones."""
        await self._clients.aclose()
