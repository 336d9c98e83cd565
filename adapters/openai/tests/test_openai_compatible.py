"""OpenAI-compatible servers under their own provider names (Ollama, vLLM, LM Studio, OpenRouter)."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import httpx2
import pytest

from orchestratex import FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import (
    AuthenticationError,
    ConfigurationError,
    ContentFiltered,
    ProviderHTTPError,
    ProviderNotConfigured,
    ProviderServerError,
    RateLimited,
    UnknownPriceError,
)
from orchestratex.orchestrator import RetryPolicy
from orchestratex.providers import GenerationRequest, Message, load_provider_class
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex.usage import Usage
from orchestratex_openai import (
    LMStudioProvider,
    OllamaProvider,
    OpenAICompatibleProvider,
    OpenAIProvider,
    OpenRouterProvider,
    VLLMProvider,
)

from .test_openai_contract import chat_completion

LOCAL_CATALOG = """
[[models]]
name = "ollama:llama3.2"
input_cost_per_1k = 0
output_cost_per_1k = 0
context_window = 131072

[[models]]
name = "ollama:qwen3"
context_window = 40960
"""


def ask(model_name: str, catalog: ModelCatalog) -> GenerationRequest:
    return GenerationRequest(
        model=catalog.get(model_name), messages=[Message(role="user", content="hi")], max_output_tokens=50, stop=["\n"]
    )


@pytest.mark.parametrize("cls", [OllamaProvider, VLLMProvider, LMStudioProvider, OpenRouterProvider])
def test_registered_under_their_own_names(cls: type[OpenAICompatibleProvider]) -> None:
    assert load_provider_class(cls.name) is cls


def test_local_servers_are_configured_only_by_their_base_url_variable() -> None:
    assert not OllamaProvider.is_configured({})
    assert not OllamaProvider.is_configured({"OPENAI_API_KEY": "sk"})
    assert OllamaProvider.is_configured({"OLLAMA_BASE_URL": "http://gpu-box:11434/v1"})
    assert (
        OllamaProvider.from_env({"OLLAMA_BASE_URL": "http://gpu-box:11434/v1"}).base_url == "http://gpu-box:11434/v1/"
    )
    assert VLLMProvider.is_configured({"VLLM_BASE_URL": "http://localhost:8000/v1"})
    assert not VLLMProvider.is_configured({"VLLM_API_KEY": "token"})
    with pytest.raises(ProviderNotConfigured, match="OLLAMA_BASE_URL"):
        OllamaProvider.from_env({})


def test_openrouter_needs_its_key() -> None:
    assert not OpenRouterProvider.is_configured({})
    with pytest.raises(ProviderNotConfigured, match="OPENROUTER_API_KEY"):
        OpenRouterProvider.from_env({})
    provider = OpenRouterProvider.from_env({"OPENROUTER_API_KEY": "sk-or-test"})
    assert provider.base_url == "https://openrouter.ai/api/v1/"


async def test_ollama_model_priced_free_explicitly() -> None:
    catalog = ModelCatalog.from_mapping(tomllib.loads(LOCAL_CATALOG))
    server = MockServer(Reply(200, json=chat_completion(Usage(input_tokens=26, output_tokens=9), text="Hello!")))
    provider = OllamaProvider(
        base_url="http://localhost:11434/v1", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    generation = await provider.generate(ask("ollama:llama3.2", catalog))
    assert generation.cost == 0.0 and generation.usage.output_tokens == 9
    sent = server.requests[0]
    assert sent.url == "http://localhost:11434/v1/chat/completions"
    assert sent.json["max_tokens"] == 50 and "max_completion_tokens" not in sent.json
    assert sent.json["stop"] == ["\n"]
    assert sent.json["model"] == "llama3.2"
    with pytest.raises(UnknownPriceError):  # no price configured: never silently free
        await provider.generate(ask("ollama:qwen3", catalog))
    assert len(server.requests) == 1


async def test_keyed_server_errors_name_its_variable() -> None:
    server = MockServer(Reply(401, json={"error": {"message": "No auth credentials found", "code": 401}}))
    provider = OpenRouterProvider(
        api_key="sk-or-bad", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    catalog = ModelCatalog.from_mapping(
        {"models": [{"name": "openrouter:meta-llama/llama-3.3-70b-instruct", "cost_per_1k_tokens": 0.0001}]}
    )
    with pytest.raises(AuthenticationError, match="OPENROUTER_API_KEY"):
        await provider.generate(ask("openrouter:meta-llama/llama-3.3-70b-instruct", catalog))


async def test_openrouter_reported_cost_is_passed_on() -> None:
    body = chat_completion(Usage(input_tokens=26, output_tokens=9), text="Hello!", model="meta-llama/llama-3.3-70b")
    body["usage"]["cost"] = 0.0000123  # OpenRouter's usage accounting, in US dollars
    server = MockServer(Reply(200, json=body), Reply(200, json=chat_completion(Usage(input_tokens=26), text="x")))
    provider = OpenRouterProvider(
        api_key="sk-or-test", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    catalog = ModelCatalog.from_mapping(
        {"models": [{"name": "openrouter:meta-llama/llama-3.3-70b-instruct", "cost_per_1k_tokens": 0.0001}]}
    )
    generation = await provider.generate(ask("openrouter:meta-llama/llama-3.3-70b-instruct", catalog))
    assert generation.reported_cost == pytest.approx(0.0000123)
    assert generation.cost == catalog.get("openrouter:meta-llama/llama-3.3-70b-instruct").cost(generation.usage)
    plain = await provider.generate(ask("openrouter:meta-llama/llama-3.3-70b-instruct", catalog))
    assert plain.reported_cost is None  # no `usage.cost`: nothing reported


async def test_openrouter_reported_cost_in_a_stream_is_passed_on() -> None:
    """OpenRouter reports `usage.cost` in a stream's last chunk too (its "Usage Accounting" docs)."""
    usage = {"prompt_tokens": 26, "completion_tokens": 2, "total_tokens": 28, "cost": 0.0000123}
    chunks: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "!"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": usage},
    ]
    events = "".join(
        f"data: {json.dumps({'id': 'gen-1', 'object': 'chat.completion.chunk', 'created': 1, 'model': 'm', **c})}\n\n"
        for c in chunks
    )
    stream = Reply(200, content=(events + "data: [DONE]\n\n").encode(), headers={"content-type": "text/event-stream"})
    server = MockServer(stream)
    provider = OpenRouterProvider(
        api_key="sk-or-test", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    catalog = ModelCatalog.from_mapping(
        {"models": [{"name": "openrouter:meta-llama/llama-3.3-70b-instruct", "cost_per_1k_tokens": 0.0001}]}
    )
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    generation = await provider.generate_stream(ask("openrouter:meta-llama/llama-3.3-70b-instruct", catalog), on_text)
    assert pieces == ["Hi", "!"] and generation.text == "Hi!"
    assert generation.reported_cost == pytest.approx(0.0000123)
    assert generation.cost == catalog.get("openrouter:meta-llama/llama-3.3-70b-instruct").cost(generation.usage)


@pytest.mark.parametrize("url", ["localhost:11434/v1", "127.0.0.1:11434/v1", "ftp://localhost:11434/v1"])
def test_a_base_url_without_its_scheme_is_refused_naming_the_variable_and_the_fix(url: str) -> None:
    """`OLLAMA_BASE_URL=localhost:11434/v1` (a host and port, as `OLLAMA_HOST` is often written) configured the
    provider, then every call failed as a retried connection error, "cannot reach ollama: Request URL has an
    unsupported protocol 'localhost://'", and the run ended with every model failed. It is refused at once."""
    with pytest.raises(ConfigurationError, match="OLLAMA_BASE_URL") as raised:
        OllamaProvider.from_env({"OLLAMA_BASE_URL": url})
    assert "http://" in str(raised.value) and url in str(raised.value)
    with pytest.raises(ConfigurationError, match="base_url"):
        OllamaProvider(base_url=url)
    assert OllamaProvider.from_env({"OLLAMA_BASE_URL": "HTTP://localhost:11434/v1"}).base_url.startswith("http://")


@pytest.mark.parametrize(
    "url", ["http://localhost:11434/v1\r", "http://localhost:11434/v1 ", " http://localhost:11434/v1"]
)
def test_a_base_url_with_white_space_at_an_end_is_refused_naming_the_variable(url: str) -> None:
    """`OLLAMA_BASE_URL` read from a `.env` file written on Windows ends with `\r`: the provider's SDK client raised
    `httpx2.InvalidURL` (a traceback from `orchestratex run`); with a space at an end every call went to
    `…/v1%20/chat/completions` (a 404), or to a URL without a scheme."""
    with pytest.raises(ConfigurationError, match="OLLAMA_BASE_URL") as raised:
        OllamaProvider.from_env({"OLLAMA_BASE_URL": url})
    assert f"{url!r} (OLLAMA_BASE_URL) has white space at an end" in str(raised.value)
    assert str(raised.value).endswith("write 'http://localhost:11434/v1'")
    with pytest.raises(ConfigurationError, match="base_url"):
        OllamaProvider(base_url=url)


@pytest.mark.parametrize(
    "url", ["http://localhost:11434/v1/chat/completions", "http://localhost:11434/v1/chat/completions/"]
)
def test_a_base_url_naming_the_endpoint_is_refused_with_the_root_to_write(url: str) -> None:
    """The endpoint's URL given as the base URL (as tools that ask for "the endpoint" take it) sent every call to
    /v1/chat/completions/chat/completions: each failed with a 404, and the run ended with every model failed."""
    with pytest.raises(ConfigurationError, match="OLLAMA_BASE_URL") as raised:
        OllamaProvider.from_env({"OLLAMA_BASE_URL": url})
    assert "http://localhost:11434/v1" in str(raised.value) and "/chat/completions" in str(raised.value)


@pytest.mark.parametrize(
    "refusal",
    [
        Reply(400, json={"error": "'response_format.type' must be 'json_schema'"}),  # LM Studio
        Reply(  # Hugging Face TGI (its JSON grammar takes a schema as `value`)
            422,
            json={
                "error": "Failed to deserialize the JSON body into the target type: response_format: missing field"
                " `value` at line 1 column 312",
                "error_type": "validation",
            },
        ),
    ],
    ids=["lmstudio", "tgi"],
)
async def test_a_server_without_openai_s_json_mode_still_judges(refusal: Reply) -> None:
    """A judge's call asks for JSON mode (`response_format: {"type": "json_object"}`), which LM Studio refuses (400,
    it takes only `json_schema`) and TGI too (422): every judge on such a server failed, and a run whose judges were
    all there ended "no judge produced a verdict". The call is now sent again without it (the prompt asks for JSON)
    and the provider stops asking that server for it."""
    verdict = '{"score": 8, "feedback": "Clear."}'
    answer = Reply(200, json=chat_completion(Usage(input_tokens=20, output_tokens=9), text=verdict))
    server = MockServer(refusal, answer, answer)
    provider = LMStudioProvider(
        base_url="http://localhost:1234/v1", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    model = ModelCatalog.from_mapping(tomllib.loads(LOCAL_CATALOG)).get("ollama:llama3.2")
    judge = GenerationRequest(
        model=model, messages=[Message(role="user", content="Score this answer as JSON")], json_output=True
    )
    for _ in range(2):
        generation = await provider.generate(judge)
        assert json.loads(generation.text) == {"score": 8, "feedback": "Clear."}
    sent = [r.json for r in server.requests]
    assert [("response_format" in body) for body in sent] == [True, False, False]


OPENROUTER_FAILURES = [
    # OpenRouter's documented error shape, answered with a 200 once the request was under way (its errors page:
    # "any error occurred while the LLM is producing the output will be emitted in the response body")
    (
        {"code": 502, "message": "Provider returned error", "metadata": {"provider_name": "Together"}},
        ProviderServerError,
    ),
    ({"code": 429, "message": "Rate limit exceeded: upstream", "metadata": {}}, RateLimited),
    ({"code": 400, "message": "Invalid request to the provider"}, ProviderHTTPError),
]


@pytest.mark.parametrize(("error", "cls"), OPENROUTER_FAILURES)
async def test_an_error_openrouter_answers_with_a_200_is_the_status_it_names(
    error: dict[str, Any], cls: type[ProviderHTTPError]
) -> None:
    """It was a MalformedResponse, "chat completion without choices": never retried, OpenRouter's words lost."""
    server = MockServer(Reply(200, json={"error": error}))
    provider = OpenRouterProvider(
        api_key="sk-or-test", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    catalog = ModelCatalog.from_mapping(
        {"models": [{"name": "openrouter:meta-llama/llama-3.3-70b-instruct", "cost_per_1k_tokens": 0.0001}]}
    )
    with pytest.raises(cls, match=f"{error['message']} \\(answered with status 200\\)") as raised:
        await provider.generate(ask("openrouter:meta-llama/llama-3.3-70b-instruct", catalog))
    assert type(raised.value) is cls and raised.value.status_code == error["code"]
    assert raised.value.retryable is (error["code"] != 400)


async def test_a_run_retries_an_upstream_failure_openrouter_answered_with_a_200() -> None:
    answers = iter(
        [
            httpx2.Response(200, json={"error": {"code": 502, "message": "Provider returned error"}}),
            httpx2.Response(200, json=chat_completion(Usage(input_tokens=3, output_tokens=4), text="Paris.")),
        ]
    )
    provider = OpenRouterProvider(
        api_key="sk-or-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(lambda r: next(answers)))
    )
    answering = ModelProfile(name="openrouter:meta-llama/llama-3.3-70b-instruct", cost_per_1k_tokens=0.0001)
    judge = ModelProfile(name="function:judge", cost_per_1k_tokens=0.001)
    orch = Orchestrator(
        providers=[provider, FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "good"}))],
        catalog=ModelCatalog([answering, judge]),
        retry=RetryPolicy(max_attempts=2, initial_wait=0, max_wait=0),
        judges=["function:judge"],
    )
    result = await orch.run("The capital of France?", max_iterations=1)
    assert (result.final_response, result.final_model) == ("Paris.", answering.name)


@pytest.mark.parametrize("key", ["sk-or-secret-4242\r", "sk-or-secret-4242\n", "sk-or-secret-4242 "])
async def test_an_api_key_with_white_space_at_an_end_is_sent_without_it(key: str) -> None:
    """`OPENROUTER_API_KEY` (or `OPENAI_API_KEY`, `VLLM_API_KEY`) from a `.env` file written on Windows ends with `\\r`:
    every call failed as a retried connection error, "cannot reach openrouter: Illegal header value b'Bearer
    sk-or-…\\r'", whose message, the key in it, went into the run's error, its events and the logs. The white space
    around a key is dropped; one inside it (no key holds one) is refused, naming the variable, never the key."""
    assert OpenRouterProvider.from_env({"OPENROUTER_API_KEY": key})._client.api_key == "sk-or-secret-4242"
    assert VLLMProvider(api_key=key, base_url="http://localhost:8000/v1")._client.api_key == "sk-or-secret-4242"
    broken = key.strip()[:9] + key[-1] + key.strip()[9:]
    with pytest.raises(ConfigurationError) as raised:
        OpenRouterProvider.from_env({"OPENROUTER_API_KEY": broken})
    assert str(raised.value).startswith("openrouter: the API key (OPENROUTER_API_KEY or api_key=) holds ")
    with pytest.raises(ConfigurationError, match=r"the API key \(MY_KEY or api_key=\) holds") as named:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MY_KEY", broken)
            OpenAICompatibleProvider.from_config(
                "router", base_url="https://openrouter.ai/api/v1", api_key_env="MY_KEY"
            )
    assert all("secret" not in str(e.value) for e in (raised, named))


OPENROUTER_MODERATION = {
    "code": 403,
    "message": 'openai/gpt-4o requires moderation on OpenAI. Your input was flagged for "harassment". No credits were'
    " charged.",
    "metadata": {
        "reasons": ["harassment"],
        "flagged_input": "...",
        "provider_name": "OpenAI",
        "model_slug": "openai/gpt-4o",
    },
}
"""OpenRouter's answer to an input flagged by the moderation a model requires (its errors page: 403, with a
`ModerationErrorMetadata`)."""


async def test_an_input_openrouter_s_moderation_flagged_is_content_filtered_not_a_refused_key() -> None:
    """It was an AuthenticationError, "openrouter refused access (permission denied) (403): … flagged …; set
    OPENROUTER_API_KEY to a valid key": a key that worked was blamed, and the model left the run's judges."""
    catalog = ModelCatalog.from_mapping({"models": [{"name": "openrouter:openai/gpt-4o", "cost_per_1k_tokens": 0.001}]})
    server = MockServer(
        Reply(403, json={"error": OPENROUTER_MODERATION}),
        Reply(403, json={"error": {"code": 403, "message": "Key is disabled"}}),
    )
    provider = OpenRouterProvider(
        api_key="sk-or-test", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    with pytest.raises(ContentFiltered, match='flagged for "harassment"') as raised:
        await provider.generate(ask("openrouter:openai/gpt-4o", catalog))
    assert raised.value.status_code == 403 and "OPENROUTER_API_KEY" not in str(raised.value)
    with pytest.raises(AuthenticationError, match="OPENROUTER_API_KEY"):  # a 403 without it is still a refused key
        await provider.generate(ask("openrouter:openai/gpt-4o", catalog))


def byok_usage(**extra: Any) -> dict[str, Any]:
    """OpenRouter's usage of a request served with your own provider key (its "Usage Accounting" docs): `cost` is what
    OpenRouter charged (its fee), `cost_details.upstream_inference_cost` what the provider billed your key."""
    return {
        "prompt_tokens": 26,
        "completion_tokens": 9,
        "total_tokens": 35,
        "cost": 0.000001,
        "cost_details": {"upstream_inference_cost": 0.00002},
        **extra,
    }


@pytest.mark.parametrize("is_byok", [True, None])
async def test_a_byok_call_through_openrouter_counts_what_the_provider_billed_too(is_byok: bool | None) -> None:
    """Only `usage.cost` was counted: with your own key behind OpenRouter, the run counted OpenRouter's fee (a
    twentieth of the call here) and not the inference billed to your key, so runs spent past their `cost_limit`."""
    body = chat_completion(Usage(input_tokens=26, output_tokens=9), text="Hello!", model="meta-llama/llama-3.3-70b")
    body["usage"] = byok_usage(**({} if is_byok is None else {"is_byok": is_byok}))
    plain = chat_completion(Usage(input_tokens=26, output_tokens=9), text="Hello!")
    plain["usage"] = byok_usage(is_byok=False, cost_details={"upstream_inference_cost": None})
    server = MockServer(Reply(200, json=body), Reply(200, json=plain))
    provider = OpenRouterProvider(
        api_key="sk-or-test", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    catalog = ModelCatalog.from_mapping(
        {"models": [{"name": "openrouter:meta-llama/llama-3.3-70b-instruct", "cost_per_1k_tokens": 0.0001}]}
    )
    generation = await provider.generate(ask("openrouter:meta-llama/llama-3.3-70b-instruct", catalog))
    assert generation.reported_cost == pytest.approx(0.000021)
    not_byok = await provider.generate(ask("openrouter:meta-llama/llama-3.3-70b-instruct", catalog))
    assert not_byok.reported_cost == pytest.approx(0.000001)  # OpenRouter's credits paid for the inference


async def test_a_streamed_byok_call_through_openrouter_counts_what_the_provider_billed_too() -> None:
    chunks: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": byok_usage(is_byok=True)},
    ]
    events = "".join(
        f"data: {json.dumps({'id': 'gen-1', 'object': 'chat.completion.chunk', 'created': 1, 'model': 'm', **c})}\n\n"
        for c in chunks
    )
    stream = Reply(200, content=(events + "data: [DONE]\n\n").encode(), headers={"content-type": "text/event-stream"})
    provider = OpenRouterProvider(
        api_key="sk-or-test", http_client=httpx2.AsyncClient(transport=MockServer(stream).httpx2_transport())
    )
    catalog = ModelCatalog.from_mapping(
        {"models": [{"name": "openrouter:meta-llama/llama-3.3-70b-instruct", "cost_per_1k_tokens": 0.0001}]}
    )

    async def on_text(text: str) -> None:
        return None

    generation = await provider.generate_stream(ask("openrouter:meta-llama/llama-3.3-70b-instruct", catalog), on_text)
    assert generation.reported_cost == pytest.approx(0.000021)


async def test_a_run_on_a_byok_openrouter_model_counts_the_inference_billed_to_the_key() -> None:
    body = chat_completion(Usage(input_tokens=26, output_tokens=9), text="RAID 5 stripes data with parity.")
    body["usage"] = byok_usage(is_byok=True)
    server = MockServer().always(Reply(200, json=body))
    provider = OpenRouterProvider(
        api_key="sk-or-test", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    answering = ModelProfile(name="openrouter:meta-llama/llama-3.3-70b-instruct", cost_per_1k_tokens=0.0001)
    judge = ModelProfile(name="function:judge", input_cost_per_1k=0, output_cost_per_1k=0)
    orch = Orchestrator(
        providers=[provider, FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "good"}))],
        catalog=ModelCatalog([answering, judge]),
        judges=["function:judge"],
    )
    result = await orch.run("Explain RAID 5", max_iterations=1)
    assert result.total_cost == pytest.approx(0.000021)


def unsupported(param: str, instead: str = "") -> httpx2.Response:
    """OpenAI's answer (and Azure OpenAI's) to a parameter a reasoning model does not take."""
    use = f" Use '{instead}' instead." if instead else ""
    return httpx2.Response(
        400,
        json={
            "error": {
                "message": f"Unsupported parameter: '{param}' is not supported with this model.{use}",
                "type": "invalid_request_error",
                "param": param,
                "code": "unsupported_parameter",
            }
        },
    )


async def test_a_reasoning_model_under_a_deployment_name_is_asked_without_what_it_refuses() -> None:
    """An o-series model behind Azure OpenAI's v1 API (`OPENAI_BASE_URL=https://….openai.azure.com/openai/v1`) or a
    gateway, under a deployment name (`my-o3`) the adapter cannot tell is a reasoning model: every call was a
    ProviderHTTPError, "Unsupported parameter: 'max_tokens' …", as each call sent `max_tokens`, `temperature` and
    `stop`. Each refused parameter is now left out (the limit sent as `max_completion_tokens`, the stop sequences
    applied to the answer), for that model from then on."""
    sent: list[dict[str, Any]] = []

    def azure(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        sent.append(body)
        if "max_tokens" in body:
            return unsupported("max_tokens", "max_completion_tokens")
        for param in ("temperature", "stop"):
            if param in body:
                return unsupported(param)
        return httpx2.Response(
            200, json=chat_completion(Usage(input_tokens=9, output_tokens=5), text="Paris.\nAnd more", model="o3")
        )

    provider = OpenAIProvider(
        base_url="https://contoso.openai.azure.com/openai/v1",
        api_key="azure-key",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(azure)),
    )
    catalog = ModelCatalog.from_mapping({"models": [{"name": "openai:my-o3", "cost_per_1k_tokens": 0.001}]})
    request = ask("openai:my-o3", catalog).model_copy(update={"temperature": 0.0})
    generation = await provider.generate(request)
    assert generation.text == "Paris." and generation.finish_reason == "stop"  # cut at its "\n", as sent
    assert sent[-1]["max_completion_tokens"] == 50 and not {"max_tokens", "temperature", "stop"} & set(sent[-1])
    assert len(sent) == 3  # (an Azure host is sent `max_completion_tokens` from the start: see test_openai_gateways)
    await provider.generate(request)
    assert len(sent) == 4  # remembered: asked once


async def test_a_streamed_answer_of_a_model_refusing_stop_is_cut_as_a_whole() -> None:
    pieces: list[str] = []

    def azure(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        if "stop" in body:
            return unsupported("stop")
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=9, output_tokens=5), text="Hi.\nMore"))

    provider = OpenAIProvider(
        base_url="https://gateway.example/v1",
        api_key="k",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(azure)),
    )
    catalog = ModelCatalog.from_mapping({"models": [{"name": "openai:my-o3", "cost_per_1k_tokens": 0.001}]})
    await provider.generate(ask("openai:my-o3", catalog))  # learns that the model refuses `stop`

    async def on_text(text: str) -> None:
        pieces.append(text)

    generation = await provider.generate_stream(ask("openai:my-o3", catalog), on_text)
    assert generation.text == "Hi." and pieces == ["Hi."]  # answered whole, cut, then handed on in one piece


async def test_a_first_streamed_call_of_a_model_refusing_stop_is_cut_too() -> None:
    """A model the adapter cannot tell refuses `stop` (`my-o3` behind a gateway), and its first call is a streamed one
    (`run_stream`, `/v1`'s live stream): asked again without `stop`, the stream's pieces ran past the stop sequence
    ("Hi.\\nMore") and so did the answer. The call is now made unstreamed, its text cut, and handed on in one piece."""
    sent: list[dict[str, Any]] = []
    pieces: list[str] = []

    def gateway(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        sent.append(body)
        if "stop" in body:
            return unsupported("stop")
        if body.get("stream"):
            chunks: list[dict[str, Any]] = [
                {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi."}, "finish_reason": None}]},
                {"choices": [{"index": 0, "delta": {"content": "\nMore"}, "finish_reason": "stop"}]},
                {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}},
            ]
            events = [{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "o3", **c} for c in chunks]
            content = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            return httpx2.Response(200, content=content.encode(), headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=9, output_tokens=5), text="Hi.\nMore"))

    provider = OpenAIProvider(
        base_url="https://gateway.example/v1",
        api_key="k",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(gateway)),
    )
    catalog = ModelCatalog.from_mapping({"models": [{"name": "openai:my-o3", "cost_per_1k_tokens": 0.001}]})

    async def on_text(text: str) -> None:
        pieces.append(text)

    generation = await provider.generate_stream(ask("openai:my-o3", catalog), on_text)
    assert generation.text == "Hi." and generation.finish_reason == "stop" and pieces == ["Hi."]
    assert [("stop" in body, bool(body.get("stream"))) for body in sent] == [(True, True), (False, False)]
    pieces.clear()
    generation = await provider.generate_stream(ask("openai:my-o3", catalog), on_text)  # remembered: asked once
    assert generation.text == "Hi." and pieces == ["Hi."] and len(sent) == 3


MAGISTRAL_THINKING = {"type": "thinking", "thinking": [{"type": "text", "text": "Two and two make four."}]}


def magistral(request: httpx2.Request) -> httpx2.Response:
    """Mistral's API answering a reasoning model (Magistral): `content` is a list of typed blocks, thinking and text,
    in the answer and in a stream's deltas (its chat completion reference's `ThinkChunk` and `TextChunk`)."""
    body = json.loads(request.content)
    usage = {"prompt_tokens": 8, "completion_tokens": 40, "total_tokens": 48}
    if not body.get("stream"):
        answer = chat_completion(Usage(input_tokens=8, output_tokens=40), text="", model="magistral-medium-2509")
        answer["choices"][0]["message"]["content"] = [MAGISTRAL_THINKING, {"type": "text", "text": "Four."}]
        return httpx2.Response(200, json=answer)
    deltas: list[dict[str, Any]] = [
        {"role": "assistant", "content": [MAGISTRAL_THINKING]},
        {"content": [{"type": "text", "text": "Fo"}]},
        {"content": "ur."},
    ]
    events: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]} for delta in deltas
    ] + [{"choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}], "usage": usage}]
    lines = [
        f"data: {json.dumps({'id': 'c', 'object': 'chat.completion.chunk', 'created': 1, 'model': 'm', **e})}\n\n"
        for e in events
    ]
    content = "".join(lines) + "data: [DONE]\n\n"
    return httpx2.Response(200, content=content.encode(), headers={"content-type": "text/event-stream"})


async def test_a_mistral_reasoning_model_s_answer_in_typed_blocks_is_read() -> None:
    """Mistral's reasoning models (Magistral) answer `content` as a list of blocks (`thinking`, then `text`): every
    answer was a MalformedResponse "chat completion choice without a finish reason or text", and a streamed answer
    lost the text sent as blocks. The text blocks are now the answer; the thinking is left out, as elsewhere."""
    provider = OpenAIProvider(
        base_url="https://api.mistral.ai/v1",
        api_key="k",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(magistral)),
    )
    catalog = ModelCatalog.from_mapping(
        {"models": [{"name": "openai:magistral-medium-2509", "input_cost_per_1k": 0.002, "output_cost_per_1k": 0.005}]}
    )
    request = GenerationRequest(
        model=catalog.get("openai:magistral-medium-2509"), messages=[Message(role="user", content="2+2?")]
    )
    generation = await provider.generate(request)
    assert (generation.text, generation.finish_reason, generation.usage.output_tokens) == ("Four.", "stop", 40)
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    generation = await provider.generate_stream(request, on_text)
    assert generation.text == "Four." and pieces == ["Fo", "ur."]
    assert generation.cost == catalog.get("openai:magistral-medium-2509").cost(Usage(input_tokens=8, output_tokens=40))


def test_deepseek_s_insufficient_system_resource_answer_is_retried_not_judged() -> None:
    """DeepSeek's API (`OPENAI_BASE_URL=https://api.deepseek.com`, or a catalog endpoint) ends an answer it interrupted
    for lack of resources with finish_reason `insufficient_system_resource` (its chat completion reference): that
    partial text was taken as the answer, judged, and could be the final one. It is now a server error, retried as
    vLLM's `abort` is, and the whole answer that follows is the one kept."""
    answers = iter([("DeepSeek is a", "insufficient_system_resource"), ("DeepSeek is a model family.", "stop")])
    sent: list[str] = []

    def deepseek(request: httpx2.Request) -> httpx2.Response:
        sent.append(request.url.path)
        text, finish = next(answers)
        usage = Usage(input_tokens=6, output_tokens=5)
        return httpx2.Response(200, json=chat_completion(usage, text=text, finish=finish, model="deepseek-chat"))

    provider = OpenAIProvider(
        api_key="sk-test",
        base_url="https://api.deepseek.com",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(deepseek)),
    )
    writer = ModelProfile(name="openai:deepseek-chat", input_cost_per_1k=0.00028, output_cost_per_1k=0.00042)
    judge = ModelProfile(name="function:judge", input_cost_per_1k=0, output_cost_per_1k=0)
    waits: list[float] = []
    with Orchestrator(
        providers=[provider, FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "good"}))],
        catalog=ModelCatalog([writer, judge]),
        retry=RetryPolicy(sleep=waits.append),
        judges=["function:judge"],
    ) as orchestrator:
        result = orchestrator.run_sync("What is DeepSeek?", max_iterations=1)
    assert result.final_response == "DeepSeek is a model family.", result.error
    assert len(sent) == 2 and len(waits) == 1


def test_a_base_url_a_slash_short_is_refused_with_what_to_write() -> None:
    """`OPENAI_BASE_URL=http:/localhost:11434/v1` (a slash short) was taken, and every call failed as a retried
    connection error; refused as a URL without `http://`, it was told to write `http://http:/localhost…`."""
    with pytest.raises(ConfigurationError) as raised:
        OpenAIProvider.from_env({"OPENAI_BASE_URL": "http:/localhost:11434/v1"})
    assert str(raised.value) == (
        "openai: the base URL 'http:/localhost:11434/v1' (OPENAI_BASE_URL) names no host: write the scheme, '://' and"
        " the server's host, e.g. http://localhost:4000"
    )
