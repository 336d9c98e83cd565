"""The connection to OpenAI (or an OpenAI-compatible server): key, base URL and the SDK client's lifecycle."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

import httpx2
import openai

from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import (
    ProviderHTTPError,
    ProviderNotConfigured,
    ProviderTimeout,
    UnknownPriceError,
    UserError,
)
from orchestratex.providers import Generation, GenerationRequest, Provider, TextSink, check_allow_model_requests
from orchestratex.providers._broken_stream import StreamProgress, broken_stream
from orchestratex.providers._loops import LoopClients
from orchestratex.providers._pacing import NoChunkInTime, Paced
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
    shown_url,
    time_to_write,
    without_query,
)

from ._azure import AzureKeyClient
from ._caps import RESPONSES_MIN_OUTPUT_TOKENS, least_cap
from ._errors import answer_error, map_openai_errors, read_by_the_sdk
from ._judge_thinking import JudgeThinking
from ._mapping import (
    JUDGE_REASONING_EFFORT,
    alternated,
    chat_params,
    content_text,
    generation_from_chat,
    generation_from_response,
    is_reasoning_model,
    response_params,
    responses_only_models,
    system_folded,
)
from ._sse import AsyncOpenAIClient
from ._streaming import NoStreamedUsage, generation_from_chat_stream, generation_from_response_stream
from ._thinking import ThinkingFilter, opened_by_template

__all__ = ["ApiMode", "OpenAIProvider", "is_azure_openai", "is_openai_api"]

_logger = logging.getLogger("orchestratex.providers.openai")

ApiMode = Literal["auto", "chat", "responses"]
"""Which OpenAI API serves a call: `chat` (Chat Completions), `responses`, or `auto`."""


def is_openai_api(base_url: str) -> bool:
    """Whether `base_url` is OpenAI's own API (`api.openai.com`, or a regional `*.api.openai.com`)."""
    host = urlsplit(base_url).hostname or ""
    return host == "api.openai.com" or host.endswith(".api.openai.com")


def is_openrouter(base_url: str) -> bool:
    """Whether `base_url` is OpenRouter's API (`openrouter.ai`), which takes `reasoning_effort` for every model."""
    host = urlsplit(base_url).hostname or ""
    return host == "openrouter.ai" or host.endswith(".openrouter.ai")


def is_azure_openai(base_url: str) -> bool:
    """Whether `base_url` is an Azure OpenAI resource (`*.openai.azure.com`, `*.cognitiveservices.azure.com`), which
    serves OpenAI's models with OpenAI's parameters (`max_completion_tokens`: reasoning models refuse `max_tokens`)."""
    host = urlsplit(base_url).hostname or ""
    return host.endswith((".openai.azure.com", ".cognitiveservices.azure.com"))


def _refuses_json_mode(exc: openai.APIStatusError) -> bool:
    """Whether a 400 or 422 refuses the request's `response_format` (the server has no JSON mode as OpenAI's)."""
    return exc.status_code in (400, 422) and "response_format" in f"{exc.body} {exc.message}"


_NO_SYSTEM_ROLE = ("system role not supported", "does not support 'system'")
"""How servers refuse a system message: a chat template's words (Gemma's, as vLLM answers it), OpenAI's for `o1-mini`
("Unsupported value: 'messages[0].role' does not support 'system' with this model.")."""


def _refuses_system_role(exc: openai.APIStatusError) -> bool:
    """Whether the error is the model refusing a system message (400, or another status on other servers)."""
    said = f"{exc.body} {exc.message}".lower()
    return exc.status_code in (400, 422, 500) and any(p in said for p in _NO_SYSTEM_ROLE)


_USER_FIRST = (
    "roles must alternate",
    "first message must use the",
    "should always start with 'role'='user'",
    "conversation must alternate between user and assistant",
    "conversation must start with a user message",
)
"""How servers refuse turns of one role in a row, or an assistant turn first: chat templates (Mistral's, Llama 2's and
Gemma's, as vLLM (400), Hugging Face TGI (422) and llama.cpp's `--jinja` (500) answer it: "Conversation roles must
alternate user/assistant/user/assistant/..."), and a gateway to Claude on Amazon Bedrock ("messages: first message must
use the "user" role"; LiteLLM's: "Invalid first message. Should always start with 'role'='user' for Anthropic";
Bedrock's Converse API, through LiteLLM: "A conversation must alternate between user and assistant roles. …", "A
conversation must start with a user message. …")."""


def _refuses_turns_in_a_row(exc: openai.APIStatusError) -> bool:
    """Whether the error refuses two turns of one role in a row, or an assistant turn first (`_USER_FIRST`)."""
    said = f"{exc.body} {exc.message}".lower()
    return exc.status_code in (400, 422, 500) and any(p in said for p in _USER_FIRST)


_SDK_MAJOR = int(openai.__version__.split(".", 1)[0])
"""The installed openai SDK's major version."""

_UNSUPPORTED = frozenset({"max_tokens", "temperature", "stop", "reasoning_effort", "reasoning", "extra_body"})
"""Parameters a model may refuse (OpenAI's reasoning models behind a gateway or Azure, under a deployment name the
adapter cannot recognise) that a call can do without: the output limit goes as `max_completion_tokens`, the
temperature is left to the model, the stop sequences are applied to the answer's text, a judge's reasoning effort
(`reasoning_effort`, the Responses API's `reasoning`) is left to the model (`gpt-5-pro` reasons at `high` only; an
older gateway or Azure API version may not know the field)."""

_EFFORT_PARAMS = {"reasoning_effort": "reasoning_effort", "reasoning": "reasoning", "reasoning.effort": "reasoning"}
"""How a 400 names a refused reasoning effort (its `param`), and the request's field it is."""


def _refused_parameter(exc: openai.APIStatusError) -> str | None:
    """The parameter a 400 `unsupported_parameter` names ("Unsupported parameter: 'max_tokens' is not supported with
    this model. Use 'max_completion_tokens' instead."), when the call can do without it."""
    if exc.status_code != 400:
        return None
    body = exc.body if isinstance(exc.body, Mapping) else {}
    param = body.get("param")
    if body.get("code") == "unsupported_parameter" and param in _UNSUPPORTED:
        return str(param)
    said = f"{exc.body} {exc.message}"  # (a gateway's own words: "'max_tokens' … use 'max_completion_tokens'")
    if (param == "max_tokens" or "'max_tokens'" in said) and "max_completion_tokens" in said:
        return "max_tokens"
    if (param == "temperature" or "'temperature'" in said) and "nsupported" in said:
        # OpenAI's reasoning models: "Unsupported value: 'temperature' does not support 0.0 with this model. Only the
        # default (1) value is supported." (`unsupported_value`)
        return "temperature"
    if param in _EFFORT_PARAMS:  # ("Unsupported value: 'reasoning_effort' does not support 'low' with this model")
        return _EFFORT_PARAMS[str(param)]
    if "reasoning_effort" in said and ("nrecognized" in said or "nsupported" in said):  # (Azure's older versions)
        return "reasoning_effort"
    if "think value" in said or "invalid reasoning value" in said:  # (Ollama's older versions refusing "none")
        return "reasoning_effort"
    if "chat_template_kwargs" in said:  # (a server refusing the template switch: an older llama.cpp, a gateway)
        return "extra_body"
    return None


def _without(params: dict[str, Any], param: str) -> None:
    """`params` without `param`: the output limit as `max_completion_tokens`, anything else left out."""
    value = params.pop(param, None)
    if param == "max_tokens" and value is not None:
        params["max_completion_tokens"] = value


def _unknown_output_limit(exc: openai.APIStatusError) -> bool:
    """Whether a 400 says the server does not know `max_completion_tokens`, as Azure OpenAI's API versions before
    2024-09-01-preview (2024-06-01 and 2024-02-01 are GA versions many pin) answer it: "Unrecognized request argument
    supplied: max_completion_tokens"."""
    said = f"{exc.body} {exc.message}"
    return exc.status_code == 400 and "max_completion_tokens" in said and "nrecognized" in said


def _refuses_stream_options(exc: openai.APIStatusError) -> bool:
    """Whether a 400 or 422 refuses `stream_options`, as Azure OpenAI's API versions before 2024-09-01-preview do
    ("Unrecognized request argument supplied: stream_options"), and Mistral's API, which refuses any field it does not
    know (422 `extra_forbidden` at `["body", "stream_options"]`): such a server may stream no usage."""
    return exc.status_code in (400, 422) and "stream_options" in f"{exc.body} {exc.message}"


def _refuses_streaming(exc: openai.APIStatusError) -> bool:
    """Whether a 400 refuses `stream` itself, as OpenAI answers a stream of `o3` or `gpt-5` asked by an organization
    it has not verified ("Your organization must be verified to stream this model. …", `param: "stream"`,
    `code: "unsupported_value"`), which the same model answers unstreamed."""
    body = exc.body if isinstance(exc.body, Mapping) else {}
    said = f"{exc.body} {exc.message}"  # (OpenRouter passes it on in `metadata.raw`: "Provider returned error")
    return exc.status_code == 400 and (body.get("param") == "stream" or "verified to stream" in said)


class _StopRefused(Exception):
    """A streamed call's model refused its `stop` sequences (before any text came): the stream cannot cut its pieces at
    them, so the call is made again unstreamed, whose whole text is cut."""


class OpenAIProvider(Provider):
    """OpenAI models through the official SDK (`openai.AsyncOpenAI`), or any OpenAI-compatible server.

    Calls use Chat Completions; with `api="auto"` (the default) a model the installed SDK offers
    only on the Responses API (`gpt-5-pro`, `o3-pro`, …) goes through `client.responses.create`.
    The SDK's own retries are off (`max_retries=0`): the orchestrator is the one retry owner.

    ```python
    from orchestratex_openai import OpenAIProvider

    provider = OpenAIProvider(api_key="sk-...")                        # api.openai.com
    local = OpenAIProvider(api_key="unused", base_url="http://localhost:11434/v1")  # Ollama
    ```

    Pass `client=` (an `openai.AsyncOpenAI`) or `http_client=` (an `httpx2.AsyncClient`) to inject
    your own; they are never closed by `aclose()`. Otherwise the provider opens one client per event
    loop (connections cannot serve another loop), closed as that loop ends or by `aclose()`. A
    provider that built its own HTTP connection refuses to send anything while
    `orchestratex.providers.ALLOW_MODEL_REQUESTS` is False.
    """

    name: ClassVar[str] = "openai"
    env_vars: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY", "OPENAI_BASE_URL")
    api_key_env: ClassVar[str | None] = "OPENAI_API_KEY"
    """The variable holding the API key (named in authentication errors)."""
    base_url_env: ClassVar[str | None] = "OPENAI_BASE_URL"
    """The variable that overrides the base URL."""
    default_base_url: ClassVar[str] = "https://api.openai.com/v1"
    """Where requests go when no base URL is configured."""
    requires_api_key: ClassVar[bool] = True
    """Whether the default server needs a key (local servers do not)."""
    default_api: ClassVar[ApiMode] = "auto"
    max_tokens_param: ClassVar[str | None] = None
    """The Chat Completions parameter carrying the output limit; None: `max_completion_tokens` on OpenAI's
    own API, `max_tokens` (what compatible servers accept) on any other server (see `output_limit_param`)."""
    ollama_server: ClassVar[bool] = False
    """Whether the server is Ollama (`OllamaProvider`); any other is found to be when it answers as Ollama does
    (`system_fingerprint: "fp_ollama"`): its judges are asked not to think (`judge_thinking`)."""
    openrouter_server: ClassVar[bool] = False
    """Whether the server is OpenRouter (`OpenRouterProvider`, also behind a proxy such as Helicone's); any other is
    found to be by its host, `openrouter.ai`: its judges are asked for `reasoning_effort: "low"` whatever their model
    (`judge_thinking`)."""
    template_thinking_switch: ClassVar[bool] = False
    """Whether the server passes `chat_template_kwargs` to the model's chat template (vLLM; llama.cpp's server, found
    by its answers' `system_fingerprint`, `b6000-…`): judge calls then send `enable_thinking: false`, the switch by
    which Qwen3's template turns its thinking off (`judge_thinking`; a template without it ignores it)."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        client: openai.AsyncOpenAI | None = None,
        http_client: httpx2.AsyncClient | None = None,
        timeout: float | None = 120.0,
        api: ApiMode | None = None,
    ) -> None:
        if api not in (None, "auto", "chat", "responses"):
            raise UserError(f"{type(self).__name__}: api must be 'auto', 'chat' or 'responses', got {api!r}")
        timeout = checked_timeout(timeout, provider=self.name)
        self._deadline = None if client is not None else timeout
        """The most an unstreamed call may take in all (None: no limit, or an injected client's own timeouts), more for
        a call whose answer may take longer to write (`time_to_write`): the SDK's timeout bounds each read, which a
        server keeping the connection alive with blank lines never lets run out (DeepSeek's API does so under load, for
        up to 30 minutes)."""
        self.api: ApiMode = api or self.default_api
        """Which API serves calls (see `ApiMode`)."""
        if client is not None:
            if api_key is not None or base_url is not None or http_client is not None:
                raise UserError(f"{type(self).__name__}: pass either client= or api_key/base_url/http_client, not both")
            checked_client(
                client,
                openai.OpenAI,
                provider=type(self).__name__,
                name="an openai.AsyncOpenAI (or openai.AsyncAzureOpenAI)",
                why=SYNC_CLIENT,
            )
            sdk = client.with_options(max_retries=0)
            self._clients = LoopClients(sdk)
        else:
            where = "base_url" if base_url else self.base_url_env
            base_url = str(base_url or self._env(self.base_url_env) or self.default_base_url)  # (an httpx URL too)
            self._check_scheme(base_url, where or "base_url")
            where = f"{self.api_key_env} or api_key=" if self.api_key_env else "api_key="
            api_key = checked_api_key(api_key or self._env(self.api_key_env), provider=self.name, where=where)
            if not api_key:
                if self._needs_key(base_url):
                    raise self._not_configured()
                api_key = "unused"  # local servers ignore it, but the SDK needs a string
            base_url, query = without_query(base_url)
            build = functools.partial(
                AzureKeyClient
                if is_azure_openai(base_url)
                else AsyncOpenAIClient,  # (Azure takes the key as `api-key`)
                api_key=api_key,
                base_url=base_url,
                default_query=query,
                max_retries=0,
                timeout=timeout,
            )
            checked_http_client(http_client, provider=type(self).__name__, name="an httpx2.AsyncClient")
            if http_client is None:  # (the SDK makes its HTTP client, with the environment's proxy)
                checked_http_environment(self.name)
            sdk = build(http_client=http_client)
            self._clients = LoopClients.unless_injected(
                sdk, build, lambda own: own.close(), injected=http_client is not None
            )
        self._owns_connection = self._clients.owned
        self.base_url: str = str(sdk.base_url)
        """The server the provider talks to."""
        key = getattr(sdk, "api_key", None)
        self._api_key: str | None = key if isinstance(key, str) else None
        """The key the calls carry: masked where an error answer quotes it."""
        self.without_json_mode: set[str] = set()
        """Model ids whose calls refused JSON mode (`response_format={"type": "json_object"}`: LM Studio's and TGI's
        every model, OpenAI's `o1-mini`): their calls wanting JSON ask for it in words, and the object is read from the
        answer's text. Per model: one model's refusal keeps no other model of the server from JSON mode."""
        self.without_system_role: set[str] = set()
        """Model ids whose chat template refused a system message: their system text goes in the first user message."""
        self.alternating_only: set[str] = set()
        """Model ids whose chat template refused two turns of one role in a row: such turns are sent joined."""
        self.refused_parameters: dict[str, set[str]] = {}
        """Parameters each model id refused as `unsupported_parameter` (`max_tokens`, `temperature`, `stop`)."""
        self.least_output_tokens: dict[str, int] = {}
        """The least output cap each model id was said to take, by a 400 refusing a smaller one ("Invalid
        'max_output_tokens': integer below minimum value. Expected a value >= 16"): its calls are planned, sent and
        reserved at least that from then on (`min_output_tokens`)."""
        self.unstreamed: set[str] = set()
        """Model ids whose streams the server refused (an organization OpenAI has not verified, for `o3`, `gpt-5`):
        their calls are answered unstreamed, each answer handed on in one piece."""
        self.prefilled_thinking: set[str] = set()
        """Model ids seen writing only the end of a reasoning their chat template opened (DeepSeek-R1's, QwQ's: `…\n
        </think>\n\n4.`, see `_thinking`): their streams are held until that end, so the reasoning is not passed on."""
        self.judge_thinking = JudgeThinking(
            ollama=self.ollama_server,
            template_switch=self.template_thinking_switch,
            openrouter=self.openrouter_server or is_openrouter(self.base_url),
        )
        """How judge calls ask a thinking model not to think (Qwen3 and DeepSeek-R1 think by default on local servers,
        and their thinking counts toward the judge's 512-token cap): learnt from the server's answers too."""
        """Whether judge calls ask the model not to think (`reasoning_effort: "none"`, Ollama's way to turn a thinking
        model's thinking off): Qwen3 or DeepSeek-R1 served by Ollama thinks by default, and its thinking counts toward
        the judge's 512-token output cap, so its verdict could come back empty (a failed judge). True for Ollama, and
        for any server seen answering as Ollama (`OPENAI_BASE_URL` or a catalog endpoint pointed at it); off for a
        model whose server refuses it (`refused_parameters`)."""
        self.stream_usage = True
        """Whether the server streams usage (`stream_options`); off once it refuses them, or once a priced model's
        stream came without usage (the server ignored them): calls are then not streamed, as a stream without usage
        could not be priced."""
        official = is_openai_api(self.base_url) or is_azure_openai(self.base_url)
        self.output_limit_param: str = self.max_tokens_param or ("max_completion_tokens" if official else "max_tokens")
        """The Chat Completions parameter sent with the output limit (`max_tokens_param`, else by server; a server
        that refuses `max_tokens` asking for `max_completion_tokens` is sent that from then on)."""

    @property
    def _client(self) -> openai.AsyncOpenAI:
        """The SDK client of the running event loop (its connections cannot serve another loop)."""
        return self._clients.current()

    # -- configuration ---------------------------------------------------------------------------
    @staticmethod
    def _env(var: str | None, env: Mapping[str, str] | None = None) -> str | None:
        env = os.environ if env is None else env
        return env_value(env, var) if var else None

    @classmethod
    def _not_configured(cls) -> ProviderNotConfigured:
        if not cls.requires_api_key and cls.base_url_env:  # (a local server: its address configures it, not a key)
            return ProviderNotConfigured(
                f"{cls.name}: no server; set {cls.base_url_env} (or pass base_url=), e.g. {cls.default_base_url}",
                provider=cls.name,
                env_var=cls.base_url_env,
            )
        var = cls.api_key_env or cls.base_url_env
        return ProviderNotConfigured(
            f"{cls.name}: no API key; set {var} (or pass api_key=)", provider=cls.name, env_var=var
        )

    @classmethod
    def _check_scheme(cls, base_url: str, where: str) -> None:
        """A base URL without `http://` or `https://` (`localhost:11434/v1`, as a host and port are often written),
        or naming the endpoint (`…/v1/chat/completions`), is refused here, naming where it came from: every call
        would fail. So is one with white space around it or inside (an env file's trailing space or line break, the `\r`
        of a `.env` file written on Windows): the SDK sent `…/v1%20/chat/completions`, which a server answers 404, or
        raised a bare `InvalidURL`."""
        checked_base_url(base_url, provider=cls.name, where=where, endpoint="/chat/completions")

    @classmethod
    def _needs_key(cls, base_url: str) -> bool:
        """Whether calls to `base_url` need a key: those to the provider's own hosted server do, however its URL is
        written (`https://API.openai.com/v1/`) and wherever it serves (OpenAI's regional `eu.api.openai.com`). (Compared
        as text, such a URL without a key counted as a server of one's own: shown "configured", its every call was
        refused 401.)"""
        if not cls.requires_api_key:
            return False
        own = urlsplit(cls.default_base_url).hostname
        return urlsplit(base_url).hostname == own or (is_openai_api(base_url) and is_openai_api(cls.default_base_url))

    @classmethod
    def is_configured(cls, env: Mapping[str, str] | None = None) -> bool:
        """Whether `env` holds the API key, or sets the base URL of a server that needs none.

        Servers that never need a key (`requires_api_key = False`) count as configured only when
        their base-URL variable is set.
        """
        base_url = cls._env(cls.base_url_env, env)
        if not cls.requires_api_key:
            return base_url is not None
        return cls._env(cls.api_key_env, env) is not None or (base_url is not None and not cls._needs_key(base_url))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """The provider configured by `env` (default: `os.environ`), or `ProviderNotConfigured` naming the variable."""
        if not cls.is_configured(env):
            raise cls._not_configured()
        base_url = cls._env(cls.base_url_env, env)
        if base_url is not None:
            cls._check_scheme(base_url, str(cls.base_url_env))
        return cls(
            api_key=cls._env(cls.api_key_env, env) or "unused",
            base_url=cls._env(cls.base_url_env, env) or cls.default_base_url,
            timeout=env_timeout(os.environ if env is None else env),  # (a local model on a CPU needs more than 120 s)
        )

    @classmethod
    def from_config(
        cls,
        name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str | None = None,
        **options: object,
    ) -> OpenAIProvider:
        """An OpenAI-compatible endpoint named `name` (a catalog file's `[providers.NAME]`, `kind = "openai"`).

        Anything but OpenAI's own server is spoken to as the compatible servers are (Chat Completions,
        `max_tokens`); `api` (`auto`, `chat`, `responses`) overrides the API choice, and `timeout` (seconds) the
        provider's `timeout=`.
        """
        from ._compatible import OpenAICompatibleProvider

        api = options.pop("api", None)
        # (a slow server of one's own, a local model on a CPU, is given more time than the default 120 s)
        timeout = checked_timeout(options.pop("timeout", 120.0), provider=name)
        if options:
            raise UserError(f"provider {name!r}: unknown option {sorted(options)[0]!r}")
        if api not in (None, "auto", "chat", "responses"):
            raise UserError(f"provider {name!r}: api must be 'auto', 'chat' or 'responses', got {api!r}")
        official = is_openai_api(base_url or cls.default_base_url)
        base: type[OpenAIProvider] = OpenAIProvider if official else OpenAICompatibleProvider
        named: type[OpenAIProvider] = type(
            f"{name.title().replace('-', '').replace('_', '')}Provider",
            (base,),
            {
                "name": name,
                "env_vars": (),
                "api_key_env": api_key_env,
                "base_url_env": None,
                "default_base_url": base_url or cls.default_base_url,
                "requires_api_key": official,
                "__module__": __name__,
            },
        )
        # (a catalog file passes the variable's value: a refusal names that variable)
        api_key = checked_api_key(api_key, provider=name, where=api_key_env or "api_key")
        return named(api_key=api_key, base_url=base_url, api=api, timeout=timeout)

    def min_output_tokens(self, model: ModelProfile) -> int:
        """16 for a model the Responses API serves (it refuses a smaller `max_output_tokens`: "integer below minimum
        value. Expected a value >= 16"), else 1; or the least a refusal of the model's cap said (`least_output_tokens`:
        a gateway passing the call on to that API, as OpenRouter and Azure do for OpenAI's models)."""
        least = RESPONSES_MIN_OUTPUT_TOKENS if self._uses_responses(model.version) else 1
        return max(least, self.least_output_tokens.get(model.version, 1))

    def _learn_least_cap(self, model_id: str, exc: openai.APIStatusError) -> None:
        """Remember the least output cap a 400 says `model_id` takes (`least_output_tokens`). The call itself is not
        asked again with it: its budget was reserved for the smaller cap."""
        least = least_cap(exc)
        if least is not None:
            self.least_output_tokens[model_id] = max(least, self.least_output_tokens.get(model_id, 1))

    def _reasons(self, model_id: str) -> bool:
        """Whether `model_id` is a reasoning model: one known by its id (`is_reasoning_model`), or one that refused a
        `temperature` (an Azure deployment or a gateway's alias of one, `prod-sol`: OpenAI's reasoning models take the
        default only), whose judges are then asked for a low reasoning effort too."""
        return is_reasoning_model(model_id) or "temperature" in self.refused_parameters.get(model_id, ())

    def _effort_due(self, params: dict[str, Any], param: str) -> bool:
        """Whether a judge call whose model just refused its `temperature` (so reasons) should be sent the reasoning
        effort `param` (`reasoning_effort`, the Responses API's `reasoning`) it was built without: not when it has one,
        nor when the model refused one before."""
        refused = self.refused_parameters.get(params["model"], ())
        return "temperature" in refused and param not in params and param not in refused

    def _uses_responses(self, model_id: str) -> bool:
        if self.api == "auto":
            return model_id in responses_only_models()
        return self.api == "responses"

    # -- calls -----------------------------------------------------------------------------------
    async def generate(self, request: GenerationRequest) -> Generation:
        """One call to the model `request.model.version`; errors are mapped to `orchestratex.exceptions`."""
        model = request.model
        if not model.priced:
            raise UnknownPriceError(f"model {model.name!r} has no price: set input_cost_per_1k and output_cost_per_1k")
        if self._owns_connection:
            check_allow_model_requests()
        self._check_output_cap(request)
        reasoning = self._reasons(model.version)
        deadline = time_to_write(self._deadline, request.max_output_tokens)
        closes = self._clients.closes
        with map_openai_errors(
            provider=self.name,
            model=model.name,
            api_key_env=self.api_key_env,
            base_url=self.base_url,
            api_key=self._api_key,
            closed=lambda: self._clients.closes != closes,
        ):
            try:
                async with asyncio.timeout(deadline):
                    generation = await self._call(request, reasoning, **self._time_limit(request))
            except TimeoutError:
                raise ProviderTimeout(
                    f"{self.name} at {shown_url(self.base_url.rstrip('/'))} did not answer in {deadline:g} s (the"
                    " connection was kept open without an answer)",
                    model=model.name,
                    provider=self.name,
                ) from None
        return generation

    def _check_output_cap(self, request: GenerationRequest) -> None:
        """Refuse, before sending it, a request whose output cap its API refuses (`min_output_tokens`), which OpenAI
        would answer with a 400: the run reserves for at least that cap, so it never sends such a request."""
        least = self.min_output_tokens(request.model)
        if request.max_output_tokens < least:
            raise ProviderHTTPError(
                f"{request.model.name} takes an output cap of at least {least} tokens (its API refuses less), not"
                f" max_output_tokens={request.max_output_tokens}: set max_output_tokens to {least} or more",
                status_code=400,
                model=request.model.name,
                provider=self.name,
            )

    def _time_limit(self, request: GenerationRequest) -> dict[str, Any]:
        """The SDK's `timeout=` for a call whose answer may take longer to write than the provider's `timeout` leaves
        (`time_to_write`), else nothing (the client's own): an unstreamed answer comes back only once it is whole, and
        a stream stays silent while the model reasons. Connecting is still held to `timeout` (a server that cannot be
        reached is not waited for longer)."""
        limit = time_to_write(self._deadline, request.max_output_tokens)
        if limit is None or limit == self._deadline:
            return {}
        if _SDK_MAJOR < 3:  # (openai 2.x fails a request given an `httpx2.Timeout` on a real connection: the whole
            return {"timeout": limit}  # limit then bounds connecting too)
        return {"timeout": httpx2.Timeout(limit, connect=self._deadline)}

    async def _call(self, request: GenerationRequest, reasoning: bool, **extra: Any) -> Generation:
        params: dict[str, Any]
        start = time.perf_counter()  # latency covers the HTTP round trip, not the mapping
        if self._uses_responses(request.model.version):
            params = response_params(request, reasoning=reasoning)
            response = await self._respond(params, judge=request.purpose == "judge", **extra)
            latency_ms = (time.perf_counter() - start) * 1000
            with read_by_the_sdk(provider=self.name, model=request.model.name):
                generation = generation_from_response(response, request)
        else:
            params = chat_params(request, max_tokens_param=self.output_limit_param, reasoning=reasoning)
            if request.purpose == "judge":
                self.judge_thinking.add_to(params, request.model.version)
            completion = await self._chat(params, judge=request.purpose == "judge", **extra)
            self.judge_thinking.learn(getattr(completion, "system_fingerprint", None))
            latency_ms = (time.perf_counter() - start) * 1000
            failed = answer_error(completion, f"{self.base_url}chat/completions")
            if failed is not None:  # (OpenRouter's upstream failure, sent with a 200)
                raise failed
            generation = generation_from_chat(completion, request, stop_sent="stop" in params)
            if opened_by_template(content_text(getattr(completion.choices[0].message, "content", None)) or ""):
                self.prefilled_thinking.add(request.model.version)  # (its streams are held until the reasoning ends)
        generation.latency_ms = latency_ms
        return generation

    async def _chat(self, params: dict[str, Any], *, judge: bool = False, **extra: Any) -> Any:
        """`chat.completions.create(**params, **extra)`; a server that refuses JSON mode (LM Studio takes only
        `json_schema`, Hugging Face TGI a schema as `value`, OpenAI's `o1-mini`) is asked again without it, and that
        model no more from then on: the
        messages ask for JSON and the answer's object is read from its text. Likewise a model whose chat template
        refuses a system message (Gemma's: "System role not supported") is asked again with the system text in the
        first user message, and one refusing `max_tokens` (for `max_completion_tokens`), `temperature` or `stop`
        without it (see `_UNSUPPORTED`); a `judge` call refused its temperature is asked for a low reasoning effort
        (`_reasons`)."""
        if params["model"] in self.without_json_mode:
            params.pop("response_format", None)
        if params["model"] in self.without_system_role:
            params["messages"] = system_folded(params["messages"])
        if params["model"] in self.alternating_only:
            params["messages"] = alternated(params["messages"])
        for param in self.refused_parameters.get(params["model"], ()):
            _without(params, param)
        while True:
            try:
                return await self._client.chat.completions.create(**params, **extra)
            except openai.APIStatusError as exc:
                stops = "stop" in params
                if not self._adapt(params, exc):
                    raise
                if judge and self._effort_due(params, "reasoning_effort"):
                    params["reasoning_effort"] = JUDGE_REASONING_EFFORT
                if stops and "stop" not in params and extra.get("stream"):
                    # (a stream's pieces are handed on as they come: they could not be cut at the stop sequences)
                    raise _StopRefused from exc

    async def _respond(self, params: dict[str, Any], *, judge: bool = False, **extra: Any) -> Any:
        """`responses.create(**params, **extra)`; a model refusing `temperature` (a reasoning model under a name the
        adapter cannot tell, an Azure deployment) or a judge's reasoning effort is asked again without it, and sent
        none from then on, as on Chat Completions."""
        for param in self.refused_parameters.get(params["model"], ()):
            if param in ("temperature", "reasoning"):
                params.pop(param, None)
        while True:
            try:
                return await self._client.responses.create(**params, **extra)
            except openai.APIStatusError as exc:
                refused = _refused_parameter(exc)
                if refused not in ("temperature", "reasoning") or refused not in params:
                    self._learn_least_cap(params["model"], exc)
                    raise
                self.refused_parameters.setdefault(params["model"], set()).add(refused)
                params.pop(refused)
                if judge and self._effort_due(params, "reasoning"):
                    params["reasoning"] = {"effort": JUDGE_REASONING_EFFORT}

    def _adapt(self, params: dict[str, Any], exc: openai.APIStatusError) -> bool:
        """Change `params` (and this provider's settings) to what the server that refused them with `exc` accepts;
        whether anything changed (each change removes what was refused, so a request is asked again only a few
        times)."""
        self._learn_least_cap(params["model"], exc)
        if "response_format" in params and _refuses_json_mode(exc):
            self.without_json_mode.add(params["model"])
            params.pop("response_format")
            return True
        if any(m["role"] == "system" for m in params["messages"]) and _refuses_system_role(exc):
            self.without_system_role.add(params["model"])
            params["messages"] = system_folded(params["messages"])
            return True
        joined = alternated(params["messages"])
        if joined != params["messages"] and _refuses_turns_in_a_row(exc):
            self.alternating_only.add(params["model"])
            params["messages"] = joined
            return True
        model_refuses_max_tokens = "max_tokens" in self.refused_parameters.get(params["model"], ())
        if "max_completion_tokens" in params and not model_refuses_max_tokens and _unknown_output_limit(exc):
            self.output_limit_param = "max_tokens"  # (the server's API version: so for every model from then on)
            params["max_tokens"] = params.pop("max_completion_tokens")
            return True
        refused = _refused_parameter(exc)
        if refused is not None and refused in params:
            self.refused_parameters.setdefault(params["model"], set()).add(refused)
            _without(params, refused)
            return True
        return False

    async def generate_stream(self, request: GenerationRequest, on_text: TextSink) -> Generation:
        """`generate`, streamed (`stream=True`): each text delta goes to `on_text` as it arrives; the
        usage comes from the stream's last chunk (`stream_options={"include_usage": True}`)."""
        model = request.model
        if not model.priced:
            raise UnknownPriceError(f"model {model.name!r} has no price: set input_cost_per_1k and output_cost_per_1k")
        self._check_output_cap(request)
        reasoning = self._reasons(model.version)
        refused = "stop" in self.refused_parameters.get(model.version, ())
        whole = request.json_output or (request.stop and (reasoning or refused or self._uses_responses(model.version)))
        if whole or model.version in self.unstreamed or not (self.stream_usage or self._uses_responses(model.version)):
            # the JSON object is unwrapped, the stop cut applied, from the whole text (or the server streams no usage,
            # whose stream could not be priced): not streamed, handed on in one piece (`Provider`'s way)
            return await super().generate_stream(request, on_text)
        if self._owns_connection:
            check_allow_model_requests()
        start = time.perf_counter()
        closes = self._clients.closes
        with map_openai_errors(
            provider=self.name,
            model=model.name,
            api_key_env=self.api_key_env,
            base_url=self.base_url,
            api_key=self._api_key,
            closed=lambda: self._clients.closes != closes,
        ):
            if self._uses_responses(model.version):
                params = response_params(request, reasoning=reasoning)
                try:
                    events = await self._respond(params, stream=True, **self._time_limit(request))
                except openai.APIStatusError as exc:
                    if not _refuses_streaming(exc):
                        raise
                    self.unstreamed.add(model.version)
                    return await super().generate_stream(request, on_text)  # (answered whole, in one piece)
                generation = await self._read(events, generation_from_response_stream, request, on_text)
            else:
                params = chat_params(request, max_tokens_param=self.output_limit_param, reasoning=reasoning)
                try:
                    chunks = await self._chat(
                        params, stream=True, stream_options={"include_usage": True}, **self._time_limit(request)
                    )
                except _StopRefused:  # (learnt now: answered whole and cut, as the next calls of that model are)
                    return await super().generate_stream(request, on_text)
                except openai.APIStatusError as exc:
                    if _refuses_streaming(exc):
                        self.unstreamed.add(model.version)
                    elif _refuses_stream_options(exc):
                        self.stream_usage = False
                    else:
                        raise
                    return await super().generate_stream(request, on_text)  # (answered whole, in one piece)
                try:
                    generation = await self._read_chat(chunks, request, on_text)
                except NoStreamedUsage as exc:  # (the server ignores stream_options: its streams cannot be priced)
                    self.stream_usage = False
                    generation = self._unpriced(exc.answer, request)
        generation.latency_ms = (time.perf_counter() - start) * 1000
        return generation

    def _unpriced(self, answer: Generation, request: GenerationRequest) -> Generation:
        """`answer`, a priced model's streamed without its usage, counted at the call's worst case (what the run
        reserved for it: the bound of its input tokens and its output cap at the model's prices), as `reported_cost`:
        the server billed it, at no more than that; its usage stays 0 tokens, unknown."""
        worst = request.model.worst_case_cost(self.count_input_tokens(request), request.max_output_tokens)
        _logger.warning(
            "%s streamed its answer without usage (the server at %s ignored stream_options): counted at the call's"
            " worst case, $%.6f; its next calls are answered unstreamed, with their usage",
            request.model.name,
            shown_url(self.base_url.rstrip("/")),
            worst,
        )
        return answer.model_copy(update={"reported_cost": worst})

    async def _read_chat(self, chunks: Any, request: GenerationRequest, on_text: TextSink) -> Generation:
        """`_read` of a Chat Completions stream, its thinking filtered out (held back from the start for a model seen
        writing only the end of a reasoning its template opened: `prefilled_thinking`, learnt here too)."""
        model_id = request.model.version
        thinking = ThinkingFilter(prefilled=model_id in self.prefilled_thinking)

        def read(stream: Any, request: GenerationRequest, on_text: TextSink) -> Awaitable[Generation]:
            return generation_from_chat_stream(
                self.judge_thinking.sniffed(stream.__aiter__()), request, on_text, thinking=thinking
            )

        try:
            return await self._read(chunks, read, request, on_text)
        finally:
            if thinking.found:  # (its reasoning was passed on: its next streams are held until it ends)
                self.prefilled_thinking.add(model_id)

    async def _read(
        self,
        stream: Any,
        read: Callable[[Any, GenerationRequest, TextSink], Awaitable[Generation]],
        request: GenerationRequest,
        on_text: TextSink,
    ) -> Generation:
        """`read(stream, request, on_text)`, the stream closed after; a connection that broke, or went silent, once the
        server had answered is said to have (not "cannot reach …", which read as the server being down though part of
        its answer may have been handed on). Each chunk must come within the call's time limit of the one before: a
        server keeping the connection alive with SSE comments (DeepSeek's `: keep-alive` under load, for up to 30
        minutes; OpenRouter's `: OPENROUTER PROCESSING` while its upstream does not answer) never lets the read
        timeout run out."""
        progress = StreamProgress(on_text)
        limit = time_to_write(self._deadline, request.max_output_tokens)
        async with stream:
            try:
                with read_by_the_sdk(provider=self.name, model=request.model.name):
                    return await read(stream if limit is None else Paced(stream, limit), request, progress)
            except NoChunkInTime as exc:  # (no chunk in time, comments only)
                raise broken_stream(
                    exc,
                    provider=self.name,
                    model=request.model.name,
                    at=f" at {shown_url(self.base_url.rstrip('/'))}",
                    received=progress.chars,
                    timed_out=True,
                ) from None
            except openai.APIConnectionError as exc:  # (a reset, a read timeout: the server had answered)
                raise broken_stream(
                    exc.__cause__ or exc,
                    provider=self.name,
                    model=request.model.name,
                    at=f" at {shown_url(self.base_url.rstrip('/'))}",
                    received=progress.chars,
                    timed_out=isinstance(exc, openai.APITimeoutError),
                ) from exc

    async def aclose(self) -> None:
        """Close the running loop's SDK client and its connections if this provider created them
        (an injected `client=` or `http_client=` is left open); a later call opens new ones."""
        await self._clients.aclose()
