"""Conversations sent through a gateway to Amazon Bedrock (`ANTHROPIC_BASE_URL`), which refuses what Anthropic's own API
takes: one opening with an assistant turn (a chat's greeting before the user's first message: "messages: first message
must use the "user" role"), and turns of one role in a row (an OpenAI client's context and question sent as two user
messages: "messages: roles must alternate between "user" and "assistant", but found multiple "user" roles in a row").
Every call failed with that 400, and the run with it when no other model was left."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx2

from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.runs import judged_orchestrator
from orchestratex_anthropic import AnthropicProvider

from .test_anthropic_cache_writes import SONNET

FIRST = 'messages: first message must use the "user" role'
IN_A_ROW = 'messages: roles must alternate between "user" and "assistant", but found multiple "user" roles in a row'
CHAT = [
    {"role": "assistant", "content": "Hi! Which city are you asking about?"},
    {"role": "user", "content": "The capital of France."},
]


def server(sent: list[list[dict[str, Any]]], *, bedrock: bool = True) -> httpx2.MockTransport:
    """A gateway to Bedrock, which refuses a conversation whose first turn is not the user's (or Anthropic's API)."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        sent.append(body["messages"])
        roles = [m["role"] for m in body["messages"]]
        refused = (
            FIRST if roles[0] != "user" else IN_A_ROW if any(a == b for a, b in itertools.pairwise(roles)) else None
        )
        if bedrock and refused:
            return httpx2.Response(
                400, json={"type": "error", "error": {"type": "invalid_request_error", "message": refused}}
            )
        message = {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": "Paris."}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 30, "output_tokens": 3},
        }
        return httpx2.Response(200, json=message)

    return httpx2.MockTransport(answer)


async def test_a_conversation_opening_with_the_assistant_is_answered_through_bedrock() -> None:
    sent: list[list[dict[str, Any]]] = []
    provider = AnthropicProvider(api_key="sk-ant-test", http_client=httpx2.AsyncClient(transport=server(sent)))
    async with judged_orchestrator(provider, SONNET) as orchestrator:
        result = await orchestrator.run(CHAT, max_iterations=1, cost_limit=1.0)
    assert (result.status, result.final_response, result.final_model) == ("completed", "Paris.", SONNET.name)
    assert sent == [CHAT, [{"role": "user", "content": "."}, *CHAT]]
    again = await provider.generate(GenerationRequest(model=SONNET, messages=[Message(**m) for m in CHAT]))
    assert again.text == "Paris." and len(sent) == 3 and sent[2][0] == {"role": "user", "content": "."}  # remembered


async def test_anthropic_s_own_api_is_sent_the_conversation_as_it_is() -> None:
    sent: list[list[dict[str, Any]]] = []
    transport = server(sent, bedrock=False)
    provider = AnthropicProvider(api_key="sk-ant-test", http_client=httpx2.AsyncClient(transport=transport))
    generation = await provider.generate(GenerationRequest(model=SONNET, messages=[Message(**m) for m in CHAT]))
    assert generation.text == "Paris." and sent == [CHAT] and not provider.user_first


async def test_turns_of_one_role_in_a_row_go_as_one_turn_of_text_blocks() -> None:
    sent: list[list[dict[str, Any]]] = []
    provider = AnthropicProvider(api_key="sk-ant-test", http_client=httpx2.AsyncClient(transport=server(sent)))
    chat = [
        {"role": "user", "content": "Context: a trip to France."},
        {"role": "user", "content": "What is its capital?"},
    ]
    async with judged_orchestrator(provider, SONNET) as orchestrator:
        result = await orchestrator.run(chat, max_iterations=1, cost_limit=1.0)
    assert (result.status, result.final_response) == ("completed", "Paris."), result.orchestration.iterations
    blocks = [{"type": "text", "text": m["content"]} for m in chat]
    assert sent == [[{"role": "user", "content": blocks}]]
