"""A conversation opening with an assistant turn (a chat's greeting before the user's first message), sent through a
gateway to Amazon Bedrock (`ANTHROPIC_BASE_URL`): Bedrock refuses it ("messages: first message must use the "user"
role"), where Anthropic's own API takes it. Every call failed with that 400, and the run with it when no other model
was left; such a conversation is now sent again with a user turn before the greeting, and so from then on."""

from __future__ import annotations

import json
from typing import Any

import httpx2

from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.runs import judged_orchestrator
from orchestratex_anthropic import AnthropicProvider

from .test_anthropic_cache_writes import SONNET

REFUSAL = {
    "type": "error",
    "error": {"type": "invalid_request_error", "message": 'messages: first message must use the "user" role'},
}
CHAT = [
    {"role": "assistant", "content": "Hi! Which city are you asking about?"},
    {"role": "user", "content": "The capital of France."},
]


def server(sent: list[list[dict[str, Any]]], *, bedrock: bool = True) -> httpx2.MockTransport:
    """A gateway to Bedrock, which refuses a conversation whose first turn is not the user's (or Anthropic's API)."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        sent.append(body["messages"])
        if bedrock and body["messages"][0]["role"] != "user":
            return httpx2.Response(400, json=REFUSAL)
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
