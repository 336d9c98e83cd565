"""What local OpenAI-compatible servers answer that OpenAI does not: llama.cpp's context errors, the 404 of a
base URL without its `/v1`, answers without usage, and error bodies that are not OpenAI's JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import (
    ConfigurationError,
    ContextLengthExceeded,
    MalformedResponse,
    ModelNotFound,
    ProviderError,
    ProviderHTTPError,
    ProviderServerError,
    RateLimited,
)
from orchestratex.orchestrator import RetryPolicy
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex.usage import Usage
from orchestratex_openai import OllamaProvider, VLLMProvider

from .test_openai_contract import chat_completion

SMALL = ModelProfile(name="vllm:qwen3-4b", cost_per_1k_tokens=0, context_window=4096, quality=9)
BIG = ModelProfile(name="vllm:qwen3-32b", cost_per_1k_tokens=0, context_window=131072, quality=5)
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=5)

LLAMA_CPP_CONTEXT_ERRORS = [
    (
        400,
        {
            "code": 400,
            "message": "request (4390 tokens) exceeds the available context size (4096 tokens), try increasing it",
            "type": "exceed_context_size_error",
            "n_prompt_tokens": 4390,
            "n_ctx": 4096,
        },
    ),
    (
        500,
        {
            "code": 500,
            "message": "the request exceeds the available context size. try increasing the context size or enable"
            " context shift",
            "type": "exceed_context_size_error",
            "n_prompt_tokens": 1407,
            "n_ctx": 256,
        },
    ),
    (500, {"code": 500, "message": "Context size has been exceeded.", "type": "server_error"}),
]


def local(server: MockServer) -> VLLMProvider:
    return VLLMProvider(
        base_url="http://localhost:8080/v1", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )


def ask(model: ModelProfile) -> GenerationRequest:
    return GenerationRequest(model=model, messages=[Message(role="user", content="hi")], max_output_tokens=50)


@pytest.mark.parametrize(("status", "error"), LLAMA_CPP_CONTEXT_ERRORS)
async def test_llama_cpp_context_errors_are_context_length_exceeded(status: int, error: dict[str, Any]) -> None:
    server = MockServer(Reply(status, json={"error": error}))
    with pytest.raises(ContextLengthExceeded, match="prompt too long") as raised:
        await local(server).generate(ask(SMALL))
    assert raised.value.status_code == status and not raised.value.retryable


async def test_a_llama_cpp_context_error_is_not_retried_and_a_larger_model_answers() -> None:
    sent: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        model = json.loads(request.content)["model"]
        sent.append(model)
        if model == "qwen3-4b":
            return httpx2.Response(500, json={"error": LLAMA_CPP_CONTEXT_ERRORS[1][1]})
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=30, output_tokens=2), text="Hello"))

    provider = VLLMProvider(
        base_url="http://localhost:8080/v1", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    )
    orch = Orchestrator(
        providers=[provider, FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "good"}))],
        catalog=ModelCatalog([SMALL, BIG, JUDGE]),
        router=BayesianRouter(explore=False),
        retry=RetryPolicy(max_attempts=3, initial_wait=0, max_wait=0),
        judges=["function:judge"],
    )
    result = await orch.run("hi", preferred_models=[SMALL.name, BIG.name], max_iterations=1)
    assert sent.count("qwen3-4b") == 1  # a prompt too long stays too long: not retried as a server error
    assert result.status == "completed" and result.final_response == "Hello"
    assert any("ContextLengthExceeded" in e for e in result.orchestration.iterations[0].errors)


async def test_a_reasoning_model_cut_before_any_answer_is_not_judged_and_another_model_answers() -> None:
    """vLLM, llama.cpp or Ollama serving a thinking model: `content` null, only `reasoning_content`, finish
    `length`. Before, that "" answer was judged (paid judging of nothing) and could be the final answer."""
    sent: list[str] = []
    judged: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        model = json.loads(request.content)["model"]
        sent.append(model)
        if model == "qwen3-4b":
            body = chat_completion(Usage(input_tokens=30, output_tokens=50), text="", finish="length")
            body["choices"][0]["message"].update(content=None, reasoning_content="Okay, the user says hi. Let me")
            return httpx2.Response(200, json=body)
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=30, output_tokens=2), text="Hello"))

    def judge(request: GenerationRequest) -> str:
        judged.append(request.messages[-1].content)
        return json.dumps({"score": 9, "feedback": "good"})

    provider = VLLMProvider(
        base_url="http://localhost:8080/v1", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    )
    orch = Orchestrator(
        providers=[provider, FunctionProvider(judge)],
        catalog=ModelCatalog([SMALL, BIG, JUDGE]),
        router=BayesianRouter(explore=False),
        retry=RetryPolicy(max_attempts=3, initial_wait=0, max_wait=0),
        judges=["function:judge"],
    )
    result = await orch.run("hi", preferred_models=[SMALL.name, BIG.name], max_iterations=1)
    assert sent == ["qwen3-4b", "qwen3-32b"]
    assert result.status == "completed" and result.final_response == "Hello" and result.final_model == BIG.name
    assert len(judged) == 1 and "Hello" in judged[0]
    [error] = result.orchestration.iterations[0].errors
    assert error.startswith("vllm:qwen3-4b: EmptyAnswer: vllm:qwen3-4b answered nothing: its")
    assert "output cap ran out before any answer" in error


async def test_a_404_page_names_the_url_and_the_missing_v1() -> None:
    server = MockServer(Reply(404, content=b"404 page not found", headers={"content-type": "text/plain"}))
    provider = VLLMProvider(
        base_url="http://localhost:11434", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    with pytest.raises(ProviderHTTPError, match="check the base URL") as raised:
        await provider.generate(ask(SMALL))
    assert "POST http://localhost:11434/chat/completions not found" in str(raised.value)
    assert "/v1" in str(raised.value) and not raised.value.retryable


@pytest.mark.parametrize(
    "error",
    [
        {"message": 'model "qwen3-4b" not found, try pulling it first', "type": "api_error", "code": None},  # Ollama
        {
            "message": "The model `qwen3-4b` does not exist.",
            "type": "NotFoundError",
            "param": None,
            "code": 404,
        },  # vLLM
        {"message": "The model `gpt-9` does not exist", "type": "invalid_request_error", "code": "model_not_found"},
        {"message": "No models loaded. Please load a model in the developer page or use the `lms load` command."},
        {"message": 'Invalid model identifier "qwen3-4b". Please specify a valid downloaded model (e.g., qwen3-14b).'},
    ],
    ids=["ollama", "vllm", "openai", "lmstudio-none-loaded", "lmstudio-unknown"],
)
async def test_a_404_for_a_model_the_server_does_not_serve_is_model_not_found(error: dict[str, Any]) -> None:
    """An Ollama model not pulled was a plain `ProviderHTTPError`, which `/v1` answered 502: it is `ModelNotFound`, the
    server's words kept, never retried."""
    server = MockServer(Reply(404, json={"error": error}))
    with pytest.raises(ModelNotFound) as raised:
        await local(server).generate(ask(SMALL))
    assert str(raised.value).endswith(error["message"]) and not raised.value.retryable
    assert raised.value.status_code == 404 and len(server.requests) == 1


@pytest.mark.parametrize(
    "said",
    ["model 'qwen3-4b' not found", 'model "qwen3-4b" not found, try pulling it first', "no such model: qwen3-4b"],
)
async def test_a_404_whose_error_is_a_plain_string_naming_the_model_is_model_not_found(said: str) -> None:
    """`{"error": "model 'x' not found"}`, as Ollama's own API and other OpenAI-compatible servers answer a model they
    do not serve, was read as a page not found and said "check the base URL", a plain `ProviderHTTPError`."""
    server = MockServer(Reply(404, json={"error": said}))
    with pytest.raises(ModelNotFound) as raised:
        await local(server).generate(ask(SMALL))
    assert str(raised.value).endswith(said) and "check the base URL" not in str(raised.value)
    assert not raised.value.retryable and len(server.requests) == 1


async def test_a_404_page_whose_text_names_a_model_still_names_the_url() -> None:
    server = MockServer(Reply(404, content=b"model not found", headers={"content-type": "text/plain"}))
    with pytest.raises(ProviderHTTPError, match="check the base URL") as raised:
        await local(server).generate(ask(SMALL))
    assert type(raised.value) is ProviderHTTPError


async def test_a_404_json_error_not_about_the_model_stays_a_plain_http_error() -> None:
    error = {"message": "Invalid URL (POST /v1/chat/completion)", "type": "invalid_request_error", "code": None}
    with pytest.raises(ProviderHTTPError) as raised:
        await local(MockServer(Reply(404, json={"error": error}))).generate(ask(SMALL))
    assert type(raised.value) is ProviderHTTPError and str(raised.value).endswith("(POST /v1/chat/completion)")


async def test_an_answer_without_usage_is_estimated_for_a_free_model_and_refused_for_a_priced_one() -> None:
    body = chat_completion(Usage(), text="Hello there, friend")
    del body["usage"]  # some local servers report none
    server = MockServer(Reply(200, json=body), Reply(200, json=body))
    generation = await local(server).generate(ask(SMALL))
    assert generation.text == "Hello there, friend" and generation.cost == 0.0
    assert (generation.usage.input_tokens, generation.usage.output_tokens) == (1, 5)  # about 4 characters a token
    priced = SMALL.model_copy(update={"name": "vllm:priced", "input_cost_per_1k": 0.001, "output_cost_per_1k": 0.001})
    with pytest.raises(MalformedResponse, match="no usage: the cost of a priced model is unknown"):
        await local(server).generate(ask(priced))


@pytest.mark.parametrize(
    ("reply", "cls", "said"),
    [
        (
            Reply(
                502,
                content=b"<html><body>\n<h1>502 Bad Gateway</h1>\n</body></html>",
                headers={"content-type": "text/html"},
            ),
            ProviderServerError,
            "vllm server error (502): Error code: 502 - <html><body> <h1>502 Bad Gateway</h1> </body></html>",
        ),
        (
            Reply(503, content=b"upstream connect error", headers={"content-type": "text/plain", "retry-after": "2"}),
            ProviderServerError,
            "vllm server error (503): Error code: 503 - upstream connect error",
        ),
        (
            Reply(400, json={"error": "model 'qwen3-4b' not found, try pulling it first"}),
            ProviderHTTPError,
            "vllm error (400): Error code: 400 - model 'qwen3-4b' not found, try pulling it first",
        ),
        (
            Reply(422, json={"detail": [{"loc": ["body", "messages"], "msg": "field required"}]}),
            ProviderHTTPError,
            'vllm error (422): Error code: 422 - {"detail": [{"loc": ["body", "messages"], "msg": "field required"}]}',
        ),
        (
            Reply(500, content=b"x" * 1000),
            ProviderServerError,
            "vllm server error (500): Error code: 500 - " + "x" * 299 + "…",
        ),
    ],
    ids=["html", "text", "error-string", "detail", "long"],
)
async def test_an_error_body_that_is_not_openai_json_is_shown(reply: Reply, cls: type[Exception], said: str) -> None:
    with pytest.raises(cls) as info:
        await local(MockServer(reply)).generate(ask(SMALL))
    assert type(info.value) is cls and str(info.value) == said


@pytest.mark.parametrize(("sent", "expected"), [("eos_token", "stop"), ("stop_sequence", "stop"), ("length", "length")])
async def test_tgi_finish_reasons_are_the_normalised_ones(sent: str, expected: str) -> None:
    """Hugging Face TGI answers `eos_token` or `stop_sequence` where OpenAI says `stop`: they were passed on raw,
    so a TGI answer that ended normally did not read as `stop` as every other adapter's does."""
    server = MockServer(
        Reply(200, json=chat_completion(Usage(input_tokens=3, output_tokens=2), text="Hi", finish=sent))
    )
    generation = await local(server).generate(ask(SMALL))
    assert generation.finish_reason == expected


async def test_a_tgi_stream_ending_on_eos_token_finishes_with_stop() -> None:
    def event(choice: dict[str, Any]) -> bytes:
        body = {"id": "", "object": "chat.completion.chunk", "created": 1, "model": "tgi", "choices": [choice]}
        return f"data: {json.dumps(body)}\n\n".encode()

    events = [
        event({"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "logprobs": None, "finish_reason": None}),
        event(
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": "eos_token"}
        ),
        b"data: [DONE]\n\n",
    ]
    server = MockServer(Reply(200, headers={"content-type": "text/event-stream"}, content=b"".join(events)))

    async def on_text(text: str) -> None:
        return None

    generation = await local(server).generate_stream(ask(SMALL), on_text)
    assert (generation.text, generation.finish_reason) == ("Hi", "stop")


@pytest.mark.parametrize("finish", ["abort", "error"])
async def test_an_answer_vllm_stopped_early_is_a_server_error(finish: str) -> None:
    """vLLM ends an answer its engine aborted or failed with finish `abort` or `error`: that partial text was
    taken as the answer (judged, and possibly final). It is now a retried server error."""
    body = chat_completion(Usage(input_tokens=3, output_tokens=2), text="The answer is", finish=finish)
    with pytest.raises(ProviderServerError, match=f"stopped the answer before the model ended it .*'{finish}'") as e:
        await local(MockServer(Reply(200, json=body))).generate(ask(SMALL))
    assert e.value.retryable


async def test_a_run_retries_an_aborted_answer_and_keeps_the_whole_one() -> None:
    answers = iter([("The answer is", "abort"), ("The answer is 42.", "stop")])

    def handler(request: httpx2.Request) -> httpx2.Response:
        text, finish = next(answers)
        return httpx2.Response(
            200, json=chat_completion(Usage(input_tokens=3, output_tokens=4), text=text, finish=finish)
        )

    provider = VLLMProvider(
        base_url="http://localhost:8080/v1", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    )
    orch = Orchestrator(
        providers=[provider, FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "good"}))],
        catalog=ModelCatalog([SMALL, JUDGE]),
        retry=RetryPolicy(max_attempts=2, initial_wait=0, max_wait=0),
        judges=["function:judge"],
    )
    result = await orch.run("hi", max_iterations=1)
    assert result.final_response == "The answer is 42."


async def test_a_stream_vllm_aborted_is_a_server_error() -> None:
    def event(choice: dict[str, Any]) -> bytes:
        body = {"id": "", "object": "chat.completion.chunk", "created": 1, "model": "qwen", "choices": [choice]}
        return f"data: {json.dumps(body)}\n\n".encode()

    events = [
        event({"index": 0, "delta": {"content": "The answer"}, "logprobs": None, "finish_reason": None}),
        event({"index": 0, "delta": {"content": ""}, "logprobs": None, "finish_reason": "abort"}),
        b"data: [DONE]\n\n",
    ]
    server = MockServer(Reply(200, headers={"content-type": "text/event-stream"}, content=b"".join(events)))

    async def on_text(text: str) -> None:
        return None

    with pytest.raises(ProviderServerError, match="'abort'"):
        await local(server).generate_stream(ask(SMALL), on_text)


TGI_CONTEXT_ERRORS = [
    "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens and"
    " 200 `max_new_tokens`",
    "Input validation error: `inputs` must have less than 4095 tokens. Given: 5000",
]


@pytest.mark.parametrize("message", TGI_CONTEXT_ERRORS)
async def test_tgi_context_errors_are_context_length_exceeded(message: str) -> None:
    """TGI answers a prompt too long for its model with 422 and a message of its own: it was a plain
    ProviderHTTPError, counted against the model's circuit, and no larger model was preferred."""
    server = MockServer(Reply(422, json={"error": message, "error_type": "validation"}))
    with pytest.raises(ContextLengthExceeded, match="prompt too long") as raised:
        await local(server).generate(ask(SMALL))
    assert raised.value.status_code == 422 and not raised.value.retryable


def tgi_stream(error: Any) -> MockServer:
    """A TGI chat stream that fails before any token: TGI validates a streamed request inside its stream, so a
    prompt too long arrives after the 200 as an error event (`{"message", "http_status_code"}` since TGI 2.x,
    a bare string with `error_type` before)."""
    return MockServer(
        Reply(
            200,
            headers={"content-type": "text/event-stream"},
            content=f"data: {json.dumps({'error': error})}\n\n".encode(),
        )
    )


@pytest.mark.parametrize("message", TGI_CONTEXT_ERRORS)
@pytest.mark.parametrize("shape", ["status", "string"])
async def test_a_tgi_context_error_sent_mid_stream_is_context_length_exceeded(message: str, shape: str) -> None:
    """The same TGI context error as above, streamed: it was a plain ProviderError (`run_stream` and one-attempt
    `/v1` streams counted it against the model and did not move to a larger one) and, in TGI's older string
    shape, its text was lost ("An error occurred during streaming")."""
    error = {"message": message, "http_status_code": 422} if shape == "status" else message

    async def on_text(text: str) -> None:
        return None

    with pytest.raises(ContextLengthExceeded, match="prompt too long") as raised:
        await local(tgi_stream(error)).generate_stream(ask(SMALL), on_text)
    assert raised.value.status_code == (422 if shape == "status" else 400) and not raised.value.retryable
    assert "`inputs`" in str(raised.value)


@pytest.mark.parametrize("shape", ["status", "string"])
async def test_a_tgi_error_sent_mid_stream_keeps_its_text(shape: str) -> None:
    message = "Request failed during generation: Server error: CUDA out of memory"
    error = {"message": message, "http_status_code": 422} if shape == "status" else message

    async def on_text(text: str) -> None:
        return None

    with pytest.raises(ProviderError, match="CUDA out of memory"):
        await local(tgi_stream(error)).generate_stream(ask(SMALL), on_text)


@pytest.mark.parametrize(("status", "error"), LLAMA_CPP_CONTEXT_ERRORS[:2])
async def test_a_llama_cpp_error_line_in_a_stream_is_the_error_it_says(status: int, error: dict[str, Any]) -> None:
    """llama.cpp's `llama-server` (builds before its errors went out as `data: {"error": ...}`) ends a failed stream
    with an `error: {...}` line, an SSE field clients ignore: the stream read as empty, "ended without a finish
    reason" (a MalformedResponse), and the server's own message, a prompt too long, was lost."""
    body = f"error: {json.dumps(error)}\n\ndata: [DONE]\n\n".encode()
    server = MockServer(Reply(200, headers={"content-type": "text/event-stream"}, content=body))

    async def on_text(text: str) -> None:
        return None

    with pytest.raises(ContextLengthExceeded, match="available context size") as raised:
        await local(server).generate_stream(ask(SMALL), on_text)
    assert raised.value.status_code == status and not raised.value.retryable


async def test_a_llama_cpp_server_error_line_in_a_stream_is_retried_as_a_server_error() -> None:
    error = {"code": 500, "message": "failed to decode the batch", "type": "server_error"}
    body = f"error: {json.dumps(error)}\n\ndata: [DONE]\n\n".encode()
    server = MockServer(Reply(200, headers={"content-type": "text/event-stream"}, content=body))

    async def on_text(text: str) -> None:
        return None

    with pytest.raises(ProviderServerError, match="failed to decode the batch") as raised:
        await local(server).generate_stream(ask(SMALL), on_text)
    assert raised.value.retryable


async def test_a_local_judge_s_think_block_is_left_out_of_its_json() -> None:
    """A reasoning model served without a reasoning parser (DeepSeek-R1 or Qwen3 on vLLM, llama.cpp, older Ollama)
    writes its thinking in the answer, `<think>…</think>`, before the JSON a judge is asked for. With a brace in the
    thinking, the JSON was not found: the verdict fell back to prose, its feedback the tail of the JSON (`"ok"}`)."""
    text = '<think>\nThe answer handles {x} but not {y}. Maybe 6?\n</think>\n\n{"score": 8, "feedback": "Handle y."}'
    body = chat_completion(Usage(input_tokens=30, output_tokens=40), text=text)
    request = ask(SMALL).model_copy(update={"json_output": True, "purpose": "judge"})
    generation = await local(MockServer(Reply(200, json=body))).generate(request)
    assert json.loads(generation.text) == {"score": 8, "feedback": "Handle y."}


@pytest.mark.parametrize("shape", ["status", "string"])
async def test_tgi_s_overload_sent_mid_stream_is_rate_limited(shape: str) -> None:
    """TGI answers "Model is overloaded" with 429 before a stream, but inside one (where it validates and queues a
    streamed request) it labels every error 422: the overload was a ProviderHTTPError (or, as a bare string, a
    ProviderError), never retried, as if the request were wrong."""
    error = {"message": "Model is overloaded", "http_status_code": 422} if shape == "status" else "Model is overloaded"

    async def on_text(text: str) -> None:
        return None

    with pytest.raises(RateLimited, match="Model is overloaded") as raised:
        await local(tgi_stream(error)).generate_stream(ask(SMALL), on_text)
    assert raised.value.status_code == 429 and raised.value.retryable


TGI_GENERATION_ERROR = "Request failed during generation: Server error: CUDA out of memory. Tried to allocate 2.00 GiB"


async def test_a_tgi_generation_error_is_a_server_error_and_retried() -> None:
    """TGI answers a failure of its model's shards while generating (`GenerationError`: CUDA out of memory under a
    large batch, …) with 424 Failed Dependency: it was a ProviderHTTPError, never retried, so the run gave the model
    up on a failure of the server that the next try usually gets past."""
    server = MockServer(Reply(424, json={"error": TGI_GENERATION_ERROR, "error_type": "generation"}))
    with pytest.raises(ProviderServerError, match="CUDA out of memory") as raised:
        await local(server).generate(ask(SMALL))
    assert raised.value.status_code == 424 and raised.value.retryable


@pytest.mark.parametrize("shape", ["status", "string"])
async def test_a_tgi_generation_error_sent_mid_stream_is_a_server_error(shape: str) -> None:
    """Inside a stream TGI labels it 422 (`http_status_code`), or, in its older shape, names no status at all."""
    error = {"message": TGI_GENERATION_ERROR, "http_status_code": 422} if shape == "status" else TGI_GENERATION_ERROR

    async def on_text(text: str) -> None:
        return None

    with pytest.raises(ProviderServerError, match="CUDA out of memory") as raised:
        await local(tgi_stream(error)).generate_stream(ask(SMALL), on_text)
    assert raised.value.retryable


async def test_a_run_retries_a_tgi_generation_error_on_the_same_model() -> None:
    replies = iter(
        [
            httpx2.Response(424, json={"error": TGI_GENERATION_ERROR, "error_type": "generation"}),
            httpx2.Response(
                200, json=chat_completion(Usage(input_tokens=3, output_tokens=4), text="The answer is 42.")
            ),
        ]
    )
    provider = VLLMProvider(
        base_url="http://localhost:8080/v1",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(lambda request: next(replies))),
    )
    orch = Orchestrator(
        providers=[provider, FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "good"}))],
        catalog=ModelCatalog([SMALL, JUDGE]),
        retry=RetryPolicy(max_attempts=2, initial_wait=0, max_wait=0),
        judges=["function:judge"],
    )
    result = await orch.run("hi", max_iterations=1)
    assert (result.final_response, result.final_model) == ("The answer is 42.", SMALL.name)


GEMMA = ModelProfile(name="vllm:google/gemma-2-9b-it", cost_per_1k_tokens=0, context_window=8192, quality=9)
NO_SYSTEM_ROLE = {"object": "error", "message": "System role not supported", "type": "BadRequestError", "code": 400}
"""What vLLM answers for a model whose chat template refuses a system message (Gemma's)."""


O1_MINI_NO_SYSTEM = {
    "message": "Unsupported value: 'messages[0].role' does not support 'system' with this model.",
    "type": "invalid_request_error",
    "param": "messages[0].role",
    "code": "unsupported_value",
}
"""What OpenAI answers `o1-mini` asked with a system message."""


def refuses_system_role(
    answer: Reply, error: dict[str, Any] = NO_SYSTEM_ROLE
) -> Callable[[httpx2.Request], httpx2.Response]:
    """A vLLM server serving Gemma: 400 for any request with a system message, else `answer`."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        if any(m["role"] == "system" for m in json.loads(request.content)["messages"]):
            return httpx2.Response(400, json=error if error is NO_SYSTEM_ROLE else {"error": error})
        if answer.content is not None:
            return httpx2.Response(200, content=answer.content, headers=dict(answer.headers))
        return httpx2.Response(200, json=answer.json)

    return handler


@pytest.mark.parametrize("error", [NO_SYSTEM_ROLE, O1_MINI_NO_SYSTEM], ids=["gemma-on-vllm", "openai-o1-mini"])
async def test_a_model_refusing_a_system_message_gets_it_in_the_first_user_message(error: dict[str, Any]) -> None:
    """Gemma's chat template refuses the system role: every call (each answer and each verdict carries a system
    message) was a ProviderHTTPError "System role not supported", so such a model could never answer nor judge."""
    sent: list[list[dict[str, str]]] = []
    answer = Reply(json=chat_completion(Usage(input_tokens=9, output_tokens=2), text="Hello!"))
    serve = refuses_system_role(answer, error)

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content)["messages"])
        return serve(request)

    provider = VLLMProvider(
        base_url="http://localhost:8000/v1", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    )
    system = [Message(role="system", content="Be brief."), Message(role="user", content="hi")]
    request = GenerationRequest(model=GEMMA, messages=system, max_output_tokens=50)
    assert (await provider.generate(request)).text == "Hello!"
    assert sent[1] == [{"role": "user", "content": "Be brief.\n\nhi"}]
    assert (await provider.generate(request)).text == "Hello!"  # remembered: asked once, without the system message
    assert len(sent) == 3 and sent[2] == sent[1]
    other = GenerationRequest(model=SMALL, messages=system, max_output_tokens=50)
    await provider.generate(other)  # another model of the server keeps its system message
    assert sent[3][0] == {"role": "system", "content": "Be brief."}


async def test_a_streamed_answer_of_a_model_refusing_a_system_message_is_asked_again() -> None:
    events = "".join(
        f"data: {json.dumps({'id': 'c', 'object': 'chat.completion.chunk', 'created': 1, 'model': 'g', **c})}\n\n"
        for c in (
            {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {"content": "!"}, "finish_reason": "stop"}]},
            {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}},
        )
    )
    stream = Reply(content=(events + "data: [DONE]\n\n").encode(), headers={"content-type": "text/event-stream"})
    provider = VLLMProvider(
        base_url="http://localhost:8000/v1",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(refuses_system_role(stream))),
    )
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    messages = [Message(role="system", content="Be brief."), Message(role="user", content="hi")]
    generation = await provider.generate_stream(
        GenerationRequest(model=GEMMA, messages=messages, max_output_tokens=50), on_text
    )
    assert (generation.text, pieces) == ("Hi!", ["Hi", "!"])


async def test_a_run_with_a_model_refusing_a_system_message_answers_and_judges() -> None:
    verdict = json.dumps({"score": 9, "feedback": "Clear."})

    def answer(request: httpx2.Request) -> httpx2.Response:
        judging = "response_format" in json.loads(request.content)  # (a judge asks for JSON)
        text = verdict if judging else "RAID 5 stripes data with parity."
        return refuses_system_role(Reply(json=chat_completion(Usage(input_tokens=30, output_tokens=9), text=text)))(
            request
        )

    provider = VLLMProvider(
        base_url="http://localhost:8000/v1", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(answer))
    )
    judge = ModelProfile(name="vllm:google/gemma-2-27b-it", cost_per_1k_tokens=0, context_window=8192, quality=8)
    orch = Orchestrator(providers=[provider], catalog=ModelCatalog([GEMMA, judge]), judges=[judge.name])
    result = await orch.run("Explain RAID 5", max_iterations=1, preferred_models=[GEMMA.name])
    assert result.final_response == "RAID 5 stripes data with parity." and result.final_score == 9


async def test_a_404_of_a_base_url_with_a_password_does_not_show_the_password() -> None:
    """An Ollama behind a proxy with basic authentication (`OLLAMA_BASE_URL=https://bob:hunter2@ollama.example.com`,
    its `/v1` missing): the 404's hint quoted the URL tried whole, password included, into the run's error, which
    `/v1` and `/api` clients of the server, its events and its logs all receive."""
    server = MockServer(Reply(404, content=b"404 page not found", headers={"content-type": "text/plain"}))
    provider = OllamaProvider(
        base_url="https://bob:hunter2@ollama.example.com",
        http_client=httpx2.AsyncClient(transport=server.httpx2_transport()),
    )
    with pytest.raises(ProviderHTTPError, match="under /v1") as raised:
        await provider.generate(ask(SMALL))
    assert "POST https://bob:***@ollama.example.com/chat/completions not found" in str(raised.value)
    assert "hunter2" not in str(raised.value)
    for url in (
        "ftp://bob:hunter2@ollama.example.com/v1",
        "https://bob:hunter2@ollama.example.com/v1/chat/completions",
    ):
        with pytest.raises(ConfigurationError) as refused:
            OllamaProvider(base_url=url)
        assert "bob:***@ollama.example.com" in str(refused.value) and "hunter2" not in str(refused.value)


OUT_OF_MEMORY = "model requires more system memory (7.5 GiB) than is available (5.2 GiB)"
"""Ollama's 500 for a model too large for the machine's free memory."""


@pytest.mark.parametrize(
    "body",
    [{"error": {"message": OUT_OF_MEMORY, "type": "api_error", "param": None, "code": None}}, {"error": OUT_OF_MEMORY}],
    ids=["v1", "plain-string"],
)
def test_a_model_too_large_for_the_memory_is_not_retried(body: dict[str, Any]) -> None:
    """Ollama answers a model that does not fit the memory left with a 500, retried (with backoff) as a passing server
    error though every attempt gets it: the run waited through its retries before going on to the next model."""
    server = MockServer(Reply(500, json=body), Reply(500, json=body), Reply(500, json=body))
    with Orchestrator(
        providers=[local(server), FunctionProvider(lambda req: json.dumps({"score": 9, "feedback": "ok"}))],
        catalog=ModelCatalog([BIG, SMALL, JUDGE]),
        router=BayesianRouter(explore=False),
        retry=RetryPolicy(max_attempts=3, initial_wait=0, max_wait=0),
        judges=["function:judge"],
    ) as orchestrator:
        result = orchestrator.run_sync("hi", preferred_models=[BIG.name], max_iterations=1)
    assert len(server.requests) == 1, "retried"
    assert result.status == "failed"
    [error] = result.orchestration.iterations[0].errors
    assert OUT_OF_MEMORY in error and "ProviderServerError" in error, error
