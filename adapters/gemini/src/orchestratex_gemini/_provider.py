"""The connection to the Gemini API: key, base URL and the google-genai client's lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import logging
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import urlsplit

from google import genai
from google.genai import errors, types
from google.genai.client import AsyncClient

from orchestratex.exceptions import ConfigurationError, ProviderNotConfigured, UnknownPriceError, UserError
from orchestratex.providers import Generation, GenerationRequest, Provider, TextSink, check_allow_model_requests
from orchestratex.providers._broken_stream import StreamProgress, broken_stream
from orchestratex.providers._http_errors import environment_proxy
from orchestratex.providers._loops import LoopClients
from orchestratex.providers._sdk_warnings import SDKWarnings
from orchestratex.providers._support import (
    checked_api_key,
    checked_base_url,
    checked_client,
    checked_http_client,
    checked_http_environment,
    checked_timeout,
    env_timeout,
    env_value,
    server_named,
    shown_url,
    time_to_write,
)

from ._errors import _TIMEOUTS, _TRANSPORT, map_gemini_errors
from ._mapping import JUDGE_BUDGETS, NO_SDK_RETRIES, generate_content_args, generation_from_response
from ._streaming import generation_from_stream

if TYPE_CHECKING:
    import httpx
    import httpx2

__all__ = ["GeminiProvider"]

_logger = logging.getLogger("orchestratex.providers.gemini")

_UNKNOWN_VALUE = r"\S+ is not a valid [A-Z][A-Za-z]*$"
"""How google-genai warns of a value of an answer it does not know, newer than the installed SDK ("NEW_REASON is not a
valid FinishReason", a block reason, a harm category), which it keeps as it came: logged once instead
(`SDKWarnings`)."""


_AIOHTTP_SESSION_CLASS = (
    DeprecationWarning,
    "Inheritance class AiohttpClientSession from ClientSession is discouraged",
    r"google\.genai\.",
)
"""What aiohttp 3.12 and later warn of the session class google-genai defines as it opens its aiohttp session, in a
call (one per event loop), when aiohttp is installed: of google-genai's own making, it says nothing of the call, but
where warnings are errors (`python -W error`, pytest's `filterwarnings = ["error"]`) it failed the call. Left out
(`SDKWarnings`)."""


_choosing = contextvars.ContextVar("_choosing", default=False)
"""Whether the adapter is building a client with the key it chose (see `_KeyChosenHere`)."""


class _KeyChosenHere(logging.Filter):
    """Leaves out google-genai's "Both GOOGLE_API_KEY and GEMINI_API_KEY are set. Using GOOGLE_API_KEY." while the
    adapter builds a client with the key it chose itself (the same, or `api_key=`): logged for every client built
    (one per event loop), it was printed by Python's last-resort handler at the top of `orchestratex run`'s output, and
    said "Using GOOGLE_API_KEY" of a key passed as `api_key=`. A client of one's own still says it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_choosing.get() and record.getMessage().startswith("Both GOOGLE_API_KEY and GEMINI_API_KEY"))


logging.getLogger("google_genai._api_client").addFilter(_KeyChosenHere())


def _connect_within(seconds: float) -> Callable[[httpx2.Request], Awaitable[None]]:
    """A request hook holding connecting to `seconds`: google-genai gives a request one timeout for everything, so a
    call allowed more time to write a long answer (`time_to_write`: half an hour for 65,536 tokens) also waited that
    long to connect to a server that could not be reached (its packets dropped), where the OpenAI adapter gives up
    connecting after `timeout`."""

    async def hook(request: httpx2.Request) -> None:
        timeout = request.extensions.get("timeout")
        if isinstance(timeout, dict) and not (
            isinstance(timeout.get("connect"), int | float) and timeout["connect"] <= seconds
        ):
            request.extensions["timeout"] = {**timeout, "connect": seconds}

    return hook


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(scheme: str, host: str | None, port: int | None) -> tuple[str, str, int | None]:
    scheme = scheme.lower()
    return scheme, (host or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def _key_stays_at(base_url: str) -> Callable[[httpx2.Request], Awaitable[None]]:
    """A request hook keeping the key at the base URL's server: google-genai's HTTP client follows redirects, and
    httpx drops only an `Authorization` header on one to another server, so a gateway (`GOOGLE_GEMINI_BASE_URL`)
    answering 307 with another host's URL had `x-goog-api-key` sent on to that host with the prompt. The key now goes
    only to the base URL's origin (scheme, host and port)."""
    parts = urlsplit(base_url)
    home = _origin(parts.scheme, parts.hostname, parts.port)

    async def hook(request: httpx2.Request) -> None:
        url = request.url
        if _origin(url.scheme, url.host, url.port) != home:
            for name in ("x-goog-api-key", "authorization"):
                if name in request.headers:
                    del request.headers[name]

    return hook


def _aiohttp_args(base_url: str, connect_within: float | None) -> dict[str, Any]:
    """The aiohttp request arguments doing `_key_stays_at`'s and `_connect_within`'s work: with aiohttp installed,
    google-genai sends a client's calls through it, which takes no httpx event hook. Following a redirect to another
    server, aiohttp drops only `Authorization`: `x-goog-api-key` went on to the host a gateway's 307 named. And
    google-genai gives each request `ClientTimeout(total=…)` alone, so a call allowed more time to write a long answer
    (`time_to_write`) waited as long to connect to a server whose packets are dropped. Client middlewares (aiohttp 3.12
    and later) take the key off each request leaving the base URL's origin, and hold connecting to `connect_within`
    seconds; an older aiohttp follows no redirect (one is answered as the error it is). No arguments when aiohttp is
    not installed."""
    try:
        import aiohttp  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return {}
    proxy = _aiohttp_proxy(base_url)
    if "middlewares" not in inspect.signature(aiohttp.ClientSession._request).parameters:
        return {"allow_redirects": False, **proxy}
    parts = urlsplit(base_url)
    home = _origin(parts.scheme, parts.hostname, parts.port)

    async def key_stays(request: Any, handler: Callable[[Any], Awaitable[Any]]) -> Any:
        url = request.url  # (a yarl URL)
        if _origin(url.scheme, url.host, url.port) != home:
            for name in ("x-goog-api-key", "authorization"):
                request.headers.popall(name, None)
        return await handler(request)

    if connect_within is None:
        return {"middlewares": (key_stays,), **proxy}
    return {"middlewares": (key_stays, _connecting_within(connect_within, aiohttp.ConnectionTimeoutError)), **proxy}


def _aiohttp_proxy(base_url: str) -> dict[str, str]:
    """The `proxy` argument sending aiohttp's requests through the proxy the environment names, as httpx does: aiohttp
    reads `HTTPS_PROXY` and `HTTP_PROXY` alone, and ignores an `https://` proxy's, so with `ALL_PROXY` (or
    `HTTPS_PROXY=https://…`) the calls went straight to the host, past the proxy (a network that lets nothing else
    out answered "Cannot connect to host generativelanguage.googleapis.com:443"). A SOCKS proxy, which aiohttp cannot
    use (it went past `ALL_PROXY=socks5://…`, and took `HTTPS_PROXY=socks5://…` for an HTTP proxy), is refused with a
    `ConfigurationError` saying what to do."""
    found = environment_proxy(base_url)
    if found is None:
        return {}
    var, proxy = found
    proxy = proxy if "://" in proxy else f"http://{proxy}"  # (as httpx reads `proxy:3128`)
    scheme = urlsplit(proxy).scheme.lower()
    if scheme.startswith("socks"):
        raise ConfigurationError(
            f"gemini: the proxy {var}={shown_url(proxy)!r} is a SOCKS proxy, which aiohttp cannot use (installed here,"
            " google-genai sends through it): pass http_client=httpx2.AsyncClient() to GeminiProvider (with the"
            " socksio package: pip install socksio), or name an http:// proxy"
        )
    if scheme == "http" and var.lower() != "all_proxy":  # (aiohttp's own reading, its NO_PROXY matching too)
        return {}
    return {"proxy": proxy} if scheme in ("http", "https") else {}  # (another scheme: refused by the checks after)


def _connecting_within(seconds: float, timed_out: type[Exception]) -> Callable[[Any, Any], Awaitable[Any]]:
    """An aiohttp client middleware holding connecting to `seconds` (`_connect_within`'s work, which google-genai's
    `ClientTimeout(total=…)` alone does not do): the time runs until the request is sent on its connection, then the
    answer takes as long as the total allows; `timed_out` (aiohttp's `ConnectionTimeoutError`) when it ran out."""

    async def connects_in_time(request: Any, handler: Callable[[Any], Awaitable[Any]]) -> Any:
        send = getattr(request, "send", None)  # (called once connected: the request is then sent on the connection)
        if send is None:
            return await handler(request)

        async def connected(conn: Any) -> Any:
            connecting.reschedule(None)
            return await send(conn)

        try:
            request.send = connected
        except AttributeError:  # (an aiohttp whose requests take no attribute of ours: held to the total time only)
            return await handler(request)
        try:
            async with asyncio.timeout(seconds) as connecting:
                return await handler(request)
        except TimeoutError as exc:
            if not connecting.expired():
                raise
            raise timed_out(f"Connection timeout to host {request.url}") from exc

    return connects_in_time


def _client(*, api_key: str, http_options: types.HttpOptions) -> genai.Client:
    """A Gemini API client with `api_key` (not Vertex AI's, whatever `GOOGLE_GENAI_USE_VERTEXAI` says)."""
    token = _choosing.set(True)
    try:
        return genai.Client(api_key=api_key, vertexai=False, http_options=http_options)
    finally:
        _choosing.reset(token)


class GeminiProvider(Provider):
    """Gemini models through the google-genai SDK (`client.aio.models.generate_content`).

    The SDK's retries are off: the client is built with `HttpRetryOptions(attempts=1)` and every
    call repeats it, so even an injected client makes one attempt; the orchestrator is the one
    retry owner.

    ```python
    from orchestratex_gemini import GeminiProvider

    provider = GeminiProvider(api_key="AIza...")
    ```

    Pass `client=` (a `google.genai.Client`) or `http_client=` (an `httpx2.AsyncClient` or
    `httpx.AsyncClient`) to inject your own; they are never closed by `aclose()`. Otherwise the
    provider opens one client per event loop (connections cannot serve another loop), closed as that
    loop ends or by `aclose()`. A provider that built its own HTTP connection refuses to send
    anything while `orchestratex.providers.ALLOW_MODEL_REQUESTS` is False.
    """

    name: ClassVar[str] = "gemini"
    env_vars: ClassVar[tuple[str, ...]] = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    api_key_env: ClassVar[str] = "GEMINI_API_KEY"
    """The variable named in authentication errors (`GOOGLE_API_KEY` works too and wins when both are set)."""
    base_url_env: ClassVar[str] = "GOOGLE_GEMINI_BASE_URL"
    """The variable that overrides the base URL."""
    default_base_url: ClassVar[str] = "https://generativelanguage.googleapis.com/"
    """Where requests go when no base URL is configured."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        client: genai.Client | None = None,
        http_client: httpx2.AsyncClient | httpx.AsyncClient | None = None,
        timeout: float | None = 120.0,
    ) -> None:
        timeout = checked_timeout(timeout, provider=self.name)
        self._timeout = None if client is not None else timeout
        """The client's timeout (None: no limit, or an injected client's own), which a call whose answer may take
        longer to write gets more of (`time_to_write`)."""
        self._key_named = self.api_key_env
        """The variable a refused key's message says to set: the one the key came from."""
        if client is not None:
            if api_key is not None or base_url is not None or http_client is not None:
                raise UserError("GeminiProvider: pass either client= or api_key/base_url/http_client, not both")
            why = "its async half, `.aio`: pass the google.genai.Client itself"
            checked_client(client, AsyncClient, provider="GeminiProvider", name="a google.genai.Client", why=why)
            sdk = client
            self._clients = LoopClients(sdk)
        else:
            checked_http_client(
                http_client, provider="GeminiProvider", name="an httpx2.AsyncClient or httpx.AsyncClient"
            )
            where = "GOOGLE_API_KEY, GEMINI_API_KEY or api_key="
            if api_key is None:
                self._key_named = self._key_variable(os.environ)
            api_key = checked_api_key(api_key or self._key_from(os.environ), provider=self.name, where=where)
            if not api_key:
                raise self._not_configured()
            where = "base_url" if base_url else self.base_url_env
            # (a pydantic `HttpUrl` or an httpx URL too, as the other adapters take: it failed with a bare TypeError)
            base_url = str(base_url or env_value(os.environ, self.base_url_env) or self.default_base_url)
            checked_base_url(base_url, provider=self.name, where=where)  # (not at every call, as a connection error)
            hooks = [_key_stays_at(base_url)]
            if timeout is not None:
                hooks.append(_connect_within(timeout))
            http_options = types.HttpOptions(
                base_url=base_url,
                timeout=None if timeout is None else math.ceil(timeout * 1000),  # (milliseconds)
                retry_options=types.HttpRetryOptions(attempts=1),
                httpx_async_client=http_client,
                # (a call given more time to write its answer still connects within `timeout`: see `_connect_within`)
                # (each HTTP library takes the arguments it knows: httpx the hooks, aiohttp its own)
                async_client_args=None
                if http_client is not None
                else {"event_hooks": {"request": hooks}, **_aiohttp_args(base_url, timeout)},
            )
            build = functools.partial(_client, api_key=api_key, http_options=http_options)
            if http_client is None:  # (the SDK makes its HTTP client, with the environment's proxy)
                checked_http_environment(self.name)
            sdk = build()
            self._clients = LoopClients.unless_injected(
                sdk, build, lambda own: own.aio.aclose(), injected=http_client is not None
            )
        self._owns_connection = self._clients.owned
        self.without_system_instruction: set[str] = set()
        """Model ids that refused a system instruction (Gemma's on the Gemini API): their system text goes at the start
        of the first user message."""
        self.without_json_mode: set[str] = set()
        """Model ids that refused JSON mode (`response_mime_type`, Gemma's): the answer's JSON is read from its text."""
        self.without_thinking_level: set[str] = set()
        """Model ids that refused a judge's thinking level (Gemini 2.5's, which take a budget; Gemma's): they judge with
        a thinking budget (`judge_thinking_budget`), or thinking as much as they would."""
        self.judge_thinking_budget: dict[str, int | None] = {}
        """The thinking budget each model of `without_thinking_level` judges with (`JUDGE_BUDGETS`: the first when not
        listed; None: none, the model took no budget either)."""
        self._sdk_warnings = SDKWarnings(
            _logger,
            self.name,
            UserWarning,
            _UNKNOWN_VALUE,
            hint="in an answer newer than google-genai: taken as it came",
            harmless=[_AIOHTTP_SESSION_CLASS],
        )
        options = getattr(getattr(sdk, "_api_client", None), "_http_options", None)
        self.base_url: str = str(getattr(options, "base_url", None) or self.default_base_url)
        """The server the provider talks to."""
        self._at = server_named(self.base_url, self.default_base_url)
        key = getattr(getattr(sdk, "_api_client", None), "api_key", None)
        self._api_key: str | None = key if isinstance(key, str) else None
        """The key the calls carry: masked where an error answer quotes it."""

    @property
    def _client(self) -> genai.Client:
        """The SDK client of the running event loop (its connections cannot serve another loop)."""
        return self._clients.current()

    @classmethod
    def _key_from(cls, env: Mapping[str, str]) -> str | None:
        # google-genai prefers GOOGLE_API_KEY when both are set; so do we.
        return env_value(env, "GOOGLE_API_KEY") or env_value(env, "GEMINI_API_KEY")

    @classmethod
    def _key_variable(cls, env: Mapping[str, str]) -> str:
        """The variable `_key_from` takes the key from, as a refused key's message names it: `GOOGLE_API_KEY` when it
        is set (it wins, so setting `GEMINI_API_KEY` again, as the message said, changed nothing)."""
        if env_value(env, "GOOGLE_API_KEY") is None:
            return cls.api_key_env
        if env_value(env, "GEMINI_API_KEY") is None:
            return "GOOGLE_API_KEY"
        return "GOOGLE_API_KEY (which wins over GEMINI_API_KEY)"

    @classmethod
    def _not_configured(cls) -> ProviderNotConfigured:
        return ProviderNotConfigured(
            "gemini: no API key; set GEMINI_API_KEY (or GOOGLE_API_KEY, or pass api_key=)",
            provider=cls.name,
            env_var=cls.api_key_env,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """The provider configured by `env` (default: `os.environ`), or `ProviderNotConfigured` naming the variables."""
        env = os.environ if env is None else env
        api_key = cls._key_from(env)
        if not api_key:
            raise cls._not_configured()
        base_url = env_value(env, cls.base_url_env)
        if base_url is not None:
            checked_base_url(base_url, provider=cls.name, where=cls.base_url_env)
        provider = cls(api_key=api_key, base_url=base_url or cls.default_base_url, timeout=env_timeout(env))
        provider._key_named = cls._key_variable(env)
        return provider

    def _content_args(self, request: GenerationRequest) -> dict[str, Any]:
        """`generate_content_args(request)`, with more time for an answer that may take longer to write than the
        client's timeout leaves (`time_to_write`). The SDK sends the timeout as `X-Server-Timeout`, after which
        Google's server ends the call, streamed or not, with a 504 `DEADLINE_EXCEEDED`: a long answer (a thinking
        model's, reasoning before its first word) was cut at 120 s, retried and billed again, each attempt the same."""
        model_id = request.model.version
        levels = model_id not in self.without_thinking_level
        args = generate_content_args(
            request,
            system_instruction=model_id not in self.without_system_instruction,
            json_mode=model_id not in self.without_json_mode,
            thinking_level=levels,
            thinking_budget=None if levels else self.judge_thinking_budget.get(model_id, JUDGE_BUDGETS[0]),
        )
        limit = time_to_write(self._timeout, request.max_output_tokens)
        if limit is not None and limit != self._timeout:
            options = NO_SDK_RETRIES.model_copy(update={"timeout": math.ceil(limit * 1000)})  # (milliseconds)
            args["config"] = args["config"].model_copy(update={"http_options": options})
        return args

    def _adapted(self, request: GenerationRequest, sent: dict[str, Any], exc: errors.ClientError) -> bool:
        """Whether the model refused, with `exc`, something the request `sent` carried that it can do without: left out
        for that model from then on (a call made meanwhile, which carried it too, is asked again as well; each asks
        again without what was refused, a judge's thinking level replaced by the next of `JUDGE_BUDGETS`, so a few
        times at most)."""
        said = str(exc.message or "").lower()
        config = sent["config"]
        if config.system_instruction is not None and "developer instruction is not enabled" in said:
            self.without_system_instruction.add(request.model.version)
            return True
        if config.response_mime_type is not None and "json mode is not enabled" in said:
            self.without_json_mode.add(request.model.version)
            return True
        thinking = config.thinking_config
        if thinking is not None and ("thinking" in said or "budget" in said):
            model_id = request.model.version
            if thinking.thinking_level is not None:  # ("Thinking level is not supported for this model.")
                self.without_thinking_level.add(model_id)
                if "level" not in said:  # (no thinking setting at all: Gemma's)
                    self.judge_thinking_budget[model_id] = None
            elif self.judge_thinking_budget.get(model_id, JUDGE_BUDGETS[0]) == thinking.thinking_budget:
                # ("Budget 0 is invalid. This model only works in thinking mode."): the next budget, or none
                later = [
                    b for b in JUDGE_BUDGETS if thinking.thinking_budget is not None and b > thinking.thinking_budget
                ]
                self.judge_thinking_budget[model_id] = later[0] if later else None
            return True
        return False

    async def generate(self, request: GenerationRequest) -> Generation:
        """One `generate_content` call to `request.model.version`; errors are mapped to `orchestratex.exceptions`."""
        model = request.model
        if not model.priced:
            raise UnknownPriceError(f"model {model.name!r} has no price: set input_cost_per_1k and output_cost_per_1k")
        if self._owns_connection:
            check_allow_model_requests()
        closes = self._clients.closes
        with map_gemini_errors(
            provider=self.name,
            model=model.name,
            api_key_env=self._key_named,
            at=self._at,
            api_key=self._api_key,
            closed=lambda: self._clients.closes != closes,
            base_url=self.base_url,
        ):
            start = time.perf_counter()
            while True:
                args = self._content_args(request)
                try:
                    response = await self._sdk_warnings.call(self._client.aio.models.generate_content(**args))
                    break
                except errors.ClientError as exc:
                    if not self._adapted(request, args, exc):
                        raise
            latency_ms = (time.perf_counter() - start) * 1000
            generation = generation_from_response(response, request)
        generation.latency_ms = latency_ms
        return generation

    async def generate_stream(self, request: GenerationRequest, on_text: TextSink) -> Generation:
        """`generate`, streamed (`generate_content_stream`): each piece of text goes to `on_text` as it arrives;
        usage comes from the stream's last chunks."""
        model = request.model
        if not model.priced:
            raise UnknownPriceError(f"model {model.name!r} has no price: set input_cost_per_1k and output_cost_per_1k")
        if request.json_output:  # the JSON object is unwrapped from the whole text: not streamable, one piece
            return await super().generate_stream(request, on_text)
        if self._owns_connection:
            check_allow_model_requests()
        progress = StreamProgress(on_text)
        closes = self._clients.closes
        with map_gemini_errors(
            provider=self.name,
            model=model.name,
            api_key_env=self._key_named,
            at=self._at,
            api_key=self._api_key,
            closed=lambda: self._clients.closes != closes,
            base_url=self.base_url,
        ):
            start = time.perf_counter()
            while True:
                args = self._content_args(request)
                counted: _Counted | None = None
                try:
                    chunks = await self._sdk_warnings.call(self._client.aio.models.generate_content_stream(**args))
                    async with contextlib.aclosing(self._sdk_warnings.each(chunks)) as logged:
                        counted = _Counted(logged)
                        generation = await generation_from_stream(counted, request, progress)
                    break
                except errors.ClientError as exc:  # (a stream's refusal comes as its first chunk is read)
                    if progress.chars or not self._adapted(request, args, exc):
                        raise
                # (a reset, a read timeout once chunks came: not "cannot reach", it answered; aiohttp's timeout, the
                # request's whole time run out, is a `TimeoutError` and not one of its `ClientError`s)
                except (*_TRANSPORT, *_TIMEOUTS) as exc:
                    if counted is None or not counted.arrived:
                        raise
                    raise broken_stream(
                        exc,
                        provider=self.name,
                        at=self._at,
                        received=progress.chars,
                        timed_out=isinstance(exc, _TIMEOUTS),
                    ) from exc
            latency_ms = (time.perf_counter() - start) * 1000
        generation.latency_ms = latency_ms
        return generation

    async def aclose(self) -> None:
        """Close the running loop's SDK client and its connections if this provider created them
        (an injected `client=` or `http_client=` is left open); a later call opens new ones."""
        await self._clients.aclose()


class _Counted:
    """The chunks of a stream, counting those that arrived (the server answered: a failure then broke its stream)."""

    def __init__(self, chunks: AsyncIterator[types.GenerateContentResponse]) -> None:
        self._chunks = chunks
        self.arrived = 0

    def __aiter__(self) -> _Counted:
        return self

    async def __anext__(self) -> types.GenerateContentResponse:
        chunk = await self._chunks.__anext__()
        self.arrived += 1
        return chunk
