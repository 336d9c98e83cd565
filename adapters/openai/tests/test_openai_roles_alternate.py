"""A local model whose chat template takes only alternating turns (Mistral's, Llama 2's, Gemma's: "Conversation roles
must alternate user/assistant/user/assistant/...") gets turns of one role in a row joined, as a conversation's tool
results, a group chat's speakers or the turns around an empty one left out come in a row."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import httpx2
import pytest

from orchestratex import FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import ProviderHTTPError
from orchestratex.providers import GenerationRequest, Message
from orchestratex.usage import Usage
from orchestratex_openai import OpenAIProvider, VLLMProvider

from .test_openai_contract import chat_completion

MISTRAL = ModelProfile(name="vllm:mistral-7b-instruct", cost_per_1k_tokens=0, context_window=32768, quality=9)
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=5)

ALTERNATE = "Conversation roles must alternate user/assistant/user/assistant/..."
REFUSALS: dict[str, tuple[int, dict[str, Any]]] = {
    "vllm": (400, {"object": "error", "message": ALTERNATE, "type": "BadRequestError", "param": None, "code": 400}),
    "tgi": (422, {"error": f"Template error: {ALTERNATE} (in <string>:1)", "error_type": "template_error"}),
    "llama.cpp": (500, {"error": {"code": 500, "message": ALTERNATE, "type": "server_error"}}),
}

CONVERSATION = [
    Message(role="system", content="You moderate a chat."),
    Message(role="user", content="alice: The meeting is on Monday."),
    Message(role="user", content="bob: No, on Tuesday."),
    Message(role="assistant", content="Let me check."),
    Message(role="user", content="alice: Who said Tuesday?"),
]


def strict_server(status: int, error: dict[str, Any], sent: list[list[dict[str, str]]]) -> httpx2.MockTransport:
    """A server whose chat template refuses two turns of one role in a row (after the system message)."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        messages = json.loads(request.content)["messages"]
        sent.append(messages)
        roles = [m["role"] for m in messages if m["role"] != "system"]
        if any(a == b for a, b in pairwise(roles)):
            return httpx2.Response(status, json=error)
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=40, output_tokens=4), text="Bob did."))

    return httpx2.MockTransport(handler)


@pytest.mark.parametrize("server", REFUSALS, ids=list(REFUSALS))
async def test_turns_of_one_role_in_a_row_are_joined_for_a_model_that_refuses_them(server: str) -> None:
    """Each such call was a ProviderHTTPError (vLLM, TGI) or a server error retried to no end (llama.cpp's 500): the
    model never answered a conversation with two user turns in a row."""
    sent: list[list[dict[str, str]]] = []
    provider = VLLMProvider(
        base_url="http://localhost:8000/v1",
        http_client=httpx2.AsyncClient(transport=strict_server(*REFUSALS[server], sent)),
    )
    request = GenerationRequest(model=MISTRAL, messages=CONVERSATION, max_output_tokens=50)
    assert (await provider.generate(request)).text == "Bob did."
    assert sent[1] == [
        {"role": "system", "content": "You moderate a chat."},
        {"role": "user", "content": "alice: The meeting is on Monday.\n\nbob: No, on Tuesday."},
        {"role": "assistant", "content": "Let me check."},
        {"role": "user", "content": "alice: Who said Tuesday?"},
    ]
    assert (await provider.generate(request)).text == "Bob did."  # remembered: asked once, joined
    assert len(sent) == 3 and sent[2] == sent[1]


async def test_a_run_of_such_a_conversation_is_answered_by_the_strict_model() -> None:
    sent: list[list[dict[str, str]]] = []
    provider = VLLMProvider(
        base_url="http://localhost:8000/v1",
        http_client=httpx2.AsyncClient(transport=strict_server(*REFUSALS["vllm"], sent)),
    )
    orch = Orchestrator(
        providers=[provider, FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "good"}))],
        catalog=ModelCatalog([MISTRAL, JUDGE]),
        judges=["function:judge"],
    )
    result = await orch.run(CONVERSATION, max_iterations=1)
    assert (result.status, result.final_response, result.final_model) == ("completed", "Bob did.", MISTRAL.name)


def template_server(sent: list[list[dict[str, str]]]) -> httpx2.MockTransport:
    """A vLLM server applying Mistral's chat template as written: after the optional system message, user turns at
    even places and assistant turns at odd ones (`(message['role'] == 'user') != (loop.index0 % 2 == 0)`)."""
    refusal = f"After the optional system message, {ALTERNATE[0].lower()}{ALTERNATE[1:]}"

    def handler(request: httpx2.Request) -> httpx2.Response:
        messages = json.loads(request.content)["messages"]
        sent.append(messages)
        turns = messages[1:] if messages and messages[0]["role"] == "system" else messages
        if any((m["role"] == "user") != (i % 2 == 0) for i, m in enumerate(turns)):
            error = {"object": "error", "message": refusal, "type": "BadRequestError", "param": None, "code": 400}
            return httpx2.Response(400, json=error)
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=40, output_tokens=4), text="Paris."))

    return httpx2.MockTransport(handler)


async def test_a_conversation_opening_with_the_assistant_is_answered_by_the_strict_model() -> None:
    """A chat whose greeting comes first ("Hi! Which city…?") failed every call on such a model (ProviderHTTPError
    400, the run failed when no other model was left): there was nothing to join. A user turn now goes first."""
    sent: list[list[dict[str, str]]] = []
    provider = VLLMProvider(
        base_url="http://localhost:8000/v1", http_client=httpx2.AsyncClient(transport=template_server(sent))
    )
    orch = Orchestrator(
        providers=[provider, FunctionProvider(lambda r: json.dumps({"score": 9, "feedback": "good"}))],
        catalog=ModelCatalog([MISTRAL, JUDGE]),
        judges=["function:judge"],
        system_prompt="Be brief.",
    )
    chat = [
        {"role": "assistant", "content": "Hi! Which city are you asking about?"},
        {"role": "user", "content": "The capital of France."},
    ]
    result = await orch.run(chat, max_iterations=1)
    assert (result.status, result.final_response, result.final_model) == ("completed", "Paris.", MISTRAL.name)
    assert sent[-1] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "."},
        {"role": "assistant", "content": "Hi! Which city are you asking about?"},
        {"role": "user", "content": "The capital of France."},
    ]
    assert len(sent) == 2
    again = await provider.generate(GenerationRequest(model=MISTRAL, messages=[Message(**m) for m in chat]))
    assert again.text == "Paris." and len(sent) == 3 and sent[2][0] == {"role": "user", "content": "."}  # remembered


async def test_a_refusal_that_joining_cannot_help_is_raised_as_it_was() -> None:
    """A conversation already alternating, from a user turn, is not asked again."""
    sent: list[list[dict[str, str]]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content)["messages"])
        return httpx2.Response(400, json=REFUSALS["vllm"][1])

    provider = VLLMProvider(
        base_url="http://localhost:8000/v1", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    )
    turns = [
        Message(role="user", content="Hi!"),
        Message(role="assistant", content="Hello."),
        Message(role="user", content="hi"),
    ]
    with pytest.raises(ProviderHTTPError, match="roles must alternate"):
        await provider.generate(GenerationRequest(model=MISTRAL, messages=turns, max_output_tokens=50))
    assert len(sent) == 1


GATEWAY_REFUSALS = {
    "litellm": (
        "litellm.BadRequestError: AnthropicException - Invalid first message. Should always start with 'role'='user'"
        " for Anthropic. System prompt is sent separately for Anthropic. set 'litellm.modify_params = True' or"
        " 'litellm_settings:modify_params = True' on proxy, to insert a placeholder user message - '.' as the first"
        " message, "
    ),
    "bedrock": 'messages: first message must use the "user" role',
    "bedrock-converse": (
        'litellm.BadRequestError: BedrockException - {"message":"A conversation must start with a user message. Try'
        ' again with a conversation that starts with a user message."}'
    ),
}
CONVERSE_IN_A_ROW = (
    'litellm.BadRequestError: BedrockException - {"message":"A conversation must alternate between user and assistant'
    ' roles. Make sure the conversation alternates between user and assistant roles and try again."}'
)


@pytest.mark.parametrize("gateway", GATEWAY_REFUSALS)
async def test_a_gateway_to_claude_refusing_an_assistant_turn_first_is_asked_again(gateway: str) -> None:
    """A LiteLLM proxy (or another gateway) in front of Claude on Amazon Bedrock refuses a conversation opening with
    the assistant's greeting: every call failed with that 400."""
    sent: list[list[dict[str, str]]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        messages = json.loads(request.content)["messages"]
        sent.append(messages)
        if messages[0]["role"] != "user":
            error = {
                "message": GATEWAY_REFUSALS[gateway],
                "type": "invalid_request_error",
                "param": None,
                "code": "400",
            }
            return httpx2.Response(400, json={"error": error})
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=40, output_tokens=4), text="Paris."))

    claude = ModelProfile(name="openai:claude-sonnet-4-5", input_cost_per_1k=0.003, output_cost_per_1k=0.015)
    provider = OpenAIProvider(
        api_key="sk-litellm",
        base_url="http://localhost:4000",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    )
    turns = [Message(role="assistant", content="Hi! Which city?"), Message(role="user", content="France's capital.")]
    generation = await provider.generate(GenerationRequest(model=claude, messages=turns, max_output_tokens=50))
    assert generation.text == "Paris." and len(sent) == 2
    assert sent[1] == [{"role": "user", "content": "."}, *sent[0]]


async def test_a_gateway_to_bedrock_s_converse_api_refusing_user_turns_in_a_row_is_asked_again() -> None:
    sent: list[list[dict[str, str]]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        messages = json.loads(request.content)["messages"]
        sent.append(messages)
        if any(a["role"] == b["role"] for a, b in pairwise(messages)):
            error = {"message": CONVERSE_IN_A_ROW, "type": None, "param": None, "code": "400"}
            return httpx2.Response(400, json={"error": error})
        return httpx2.Response(200, json=chat_completion(Usage(input_tokens=40, output_tokens=4), text="Paris."))

    claude = ModelProfile(name="openai:bedrock-claude", input_cost_per_1k=0.003, output_cost_per_1k=0.015)
    transport = httpx2.MockTransport(handler)
    provider = OpenAIProvider(
        api_key="sk-litellm", base_url="http://localhost:4000", http_client=httpx2.AsyncClient(transport=transport)
    )
    turns = [Message(role="user", content="Context: a trip to France."), Message(role="user", content="Its capital?")]
    generation = await provider.generate(GenerationRequest(model=claude, messages=turns, max_output_tokens=50))
    assert generation.text == "Paris." and sent[1] == [
        {"role": "user", "content": "Context: a trip to France.\n\nIts capital?"}
    ]
