"""A Claude model judging: Claude 5.5's models think adaptively by default (at effort `high`; Opus 5.5 and Haiku 5.5 at
`medium`), and their thinking counts toward `max_tokens`, the judge's 512-token cap: a verdict of a few dozen tokens
came back empty (`max_tokens`, the cap spent thinking), and the judge failed, paid for. A judge is now asked for effort
`low` (`output_config`), as the OpenAI adapter asks its reasoning judges for `reasoning_effort: "low"` and the Gemini
adapter for thinking level `LOW`; a model that takes no effort (Claude Haiku 4.5: "This model does not support the
effort parameter.") is asked again without it, and so from then on."""

from __future__ import annotations

import json
from typing import Any

import httpx2

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.providers import GenerationRequest, Message
from orchestratex_anthropic import AnthropicProvider

CATALOG = ModelCatalog.default()
SONNET = CATALOG.get("anthropic:claude-sonnet-5-5")
HAIKU_4_5 = CATALOG.get("anthropic:claude-haiku-4-5")
WRITER = ModelProfile(name="function:writer", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=9)
VERDICT = json.dumps({"score": 9, "feedback": "Correct and clear."})


class ThinkingClaude:
    """Claude thinking as its effort says: at its default it thinks its whole `max_tokens` away and answers nothing;
    `claude-haiku-4-5` refuses an effort (and does not think unasked)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        effort = (body.get("output_config") or {}).get("effort")
        if effort is not None and body["model"] == "claude-haiku-4-5":
            error = {"type": "invalid_request_error", "message": "This model does not support the effort parameter."}
            return httpx2.Response(400, json={"type": "error", "error": error, "request_id": "req_011CYdtG53Qf"})
        cap = body["max_tokens"]
        if effort == "low" or body["model"] == "claude-haiku-4-5":
            content, stop, thinking, output = [{"type": "text", "text": VERDICT}], "end_turn", 0, 14
        else:  # (effort `high`: the cap is spent thinking, whose text is omitted)
            content, stop, thinking, output = (
                [{"type": "thinking", "thinking": "", "signature": "Eq"}],
                "max_tokens",
                cap,
                cap,
            )
        usage = {"input_tokens": 300, "output_tokens": output, "output_tokens_details": {"thinking_tokens": thinking}}
        message = {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        if body.get("stream"):
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=_events(message))
        return httpx2.Response(200, json=message)


def _events(message: dict[str, Any]) -> bytes:
    """`message` as the Messages API streams it (server-sent events)."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    for i, block in enumerate(message["content"]):
        empty = {"type": "text", "text": ""} if block["type"] == "text" else {**block, "thinking": ""}
        delta = {"type": "text_delta", "text": block["text"]} if block["type"] == "text" else None
        events.append(("content_block_start", {"type": "content_block_start", "index": i, "content_block": empty}))
        if delta is not None:
            events.append(("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    stop = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    events.append(("message_delta", {"type": "message_delta", "delta": stop, "usage": usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


def _orchestrator(server: ThinkingClaude, judge: ModelProfile) -> Orchestrator:
    provider = AnthropicProvider(api_key="k", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)))
    return Orchestrator(
        providers=[provider, FunctionProvider(lambda r: "Paris is the capital of France.")],
        catalog=ModelCatalog([judge, WRITER]),
        router=BayesianRouter(explore=False),
        judges=[judge.name],
    )


async def test_a_thinking_model_judges_within_its_cap() -> None:
    server = ThinkingClaude()
    result = await _orchestrator(server, SONNET).run("What is the capital of France?", max_iterations=1)
    assert result.status == "completed" and result.final_score == 9, result.orchestration.iterations
    assert server.bodies[0]["output_config"] == {"effort": "low"}
    assert server.bodies[0]["max_tokens"] == 512


async def test_a_model_that_takes_no_effort_judges_without_one_from_then_on() -> None:
    server = ThinkingClaude()
    orchestrator = _orchestrator(server, HAIKU_4_5)
    for question in ("What is the capital of France?", "And of Italy?"):
        result = await orchestrator.run(question, max_iterations=1)
        assert result.status == "completed" and result.final_score == 9, result.orchestration.iterations
    assert ["output_config" in body for body in server.bodies] == [True, False, False]


async def test_a_refused_effort_is_dropped_from_a_streamed_judge_call_too() -> None:
    server = ThinkingClaude()
    provider = AnthropicProvider(api_key="k", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)))
    request = GenerationRequest(
        model=HAIKU_4_5, messages=[Message(role="user", content="Judge it.")], max_output_tokens=512, purpose="judge"
    )
    pieces: list[str] = []

    async def take(text: str) -> None:
        pieces.append(text)

    generation = await provider.generate_stream(request, take)
    assert generation.text == "".join(pieces) == VERDICT
    assert [("output_config" in body, body.get("stream")) for body in server.bodies] == [(True, True), (False, True)]


async def test_an_answer_is_not_asked_for_less_effort() -> None:
    server = ThinkingClaude()
    provider = AnthropicProvider(api_key="k", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)))
    request = GenerationRequest(
        model=SONNET, messages=[Message(role="user", content="Prove it.")], max_output_tokens=900
    )
    await provider.generate(request)
    assert "output_config" not in server.bodies[0]
