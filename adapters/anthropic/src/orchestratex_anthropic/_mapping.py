"""Protocol mapping: `GenerationRequest` → Messages API parameters, and a `Message` → `Generation`.

Pure functions; no I/O, no client.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import ContentFiltered, MalformedResponse, UserError
from orchestratex.providers import Generation, GenerationRequest, unwrap_json_object
from orchestratex.providers._support import not_json, one_line
from orchestratex.usage import Usage, add_costs

__all__ = ["JUDGE_EFFORT", "generation_from_message", "message_params", "unwrap_json_object"]

JSON_INSTRUCTION = "Answer with a single JSON object and nothing else: no prose, no code fence."
JUDGE_EFFORT = "low"
"""The effort a judge is asked to answer with (`output_config.effort`). Claude 5.5's models think adaptively by
default, at effort `high` (Opus 5.5 and Haiku 5.5 at `medium`), and their thinking counts toward `max_tokens`: at the
judge's cap (the orchestrator's `judge_max_output_tokens`, 512) a verdict of a few dozen tokens came back empty
(`max_tokens`, the cap spent thinking), a failed judge paid for. `low` is an effort every model that takes one takes."""
_CACHE_WRITE_PREMIUM_5M = Decimal("0.25")
"""What a token written to the 5-minute prompt cache costs above the input price: Anthropic bills it at 1.25 times."""
_CACHE_WRITE_PREMIUM_1H = Decimal(1)
"""… and one written to the 1-hour cache at 2 times."""
_US_ONLY = Decimal("1.1")
"""What inference run in the US only (`inference_geo: "us"`) multiplies every rate by (Claude Opus 4.6 and later)."""
_PLACES = Decimal("1e-12")
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
}


OPENING_TURN = "."
"""The user turn put before a conversation that opens with an assistant turn, for a server that takes user turns first
("messages: first message must use the "user" role": Amazon Bedrock's, behind a gateway), as LiteLLM does."""


def message_params(request: GenerationRequest, *, effort: bool = True, user_first: bool = False) -> dict[str, Any]:
    """Keyword arguments for `client.messages.create`.

    `temperature` is not sent: Anthropic's API version 2026-10-21 (the SDK's default) removed the
    sampling parameters and answers 400 to a request that carries one. Whitespace-only stop
    sequences, which the API rejects, are applied to the returned text instead. A judge is asked to spend little
    (`JUDGE_EFFORT`), unless `effort` is off (a model that takes no effort: Claude Haiku 4.5's, older ones'). With
    `user_first`, a conversation opening with an assistant turn (a chat's greeting) gets a user turn before it
    (`OPENING_TURN`). Turns of one role in a row (an OpenAI client's context and question sent as two user messages)
    go as one turn of several text blocks, as Anthropic's API combines them itself, and as Amazon Bedrock behind a
    gateway requires ("messages: roles must alternate between "user" and "assistant", but found multiple "user" roles
    in a row").
    """
    messages: list[dict[str, Any]] = []
    for m in request.messages:
        if m.role == "system":
            continue
        if messages and messages[-1]["role"] == m.role:  # (one turn of several text blocks, as Anthropic combines them)
            turn = messages[-1]
            blocks = turn["content"] if isinstance(turn["content"], list) else [_text_block(turn["content"])]
            turn["content"] = [*blocks, _text_block(m.content)]
        else:
            messages.append({"role": m.role, "content": m.content})
    if not any(m["role"] == "user" for m in messages):  # (assistant turns alone: refused by the API after routing)
        raise UserError("an Anthropic request needs at least one user message besides the system prompt")
    if user_first and messages[0]["role"] == "assistant":
        messages.insert(0, {"role": "user", "content": OPENING_TURN})
    params: dict[str, Any] = {
        "model": request.model.version,
        "max_tokens": request.max_output_tokens,
        "messages": messages,
    }
    system = request.system
    if request.json_output:
        system = f"{system}\n\n{JSON_INSTRUCTION}" if system else JSON_INSTRUCTION
    if system:
        params["system"] = system
    sendable = [s for s in request.stop or () if s.strip()]
    if sendable:
        params["stop_sequences"] = sendable
    if effort and request.purpose == "judge":
        params["output_config"] = {"effort": JUDGE_EFFORT}
    return params


def _text_block(text: str) -> dict[str, str]:
    return {"type": "text", "text": text}


def _cut_at_whitespace_stops(text: str, stop: list[str] | None) -> tuple[str, bool]:
    """Apply the whitespace-only stop sequences, which the API rejects, to the returned text."""
    cuts = [i for i in (text.find(s) for s in stop or () if not s.strip()) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def generation_from_message(message: Any, request: GenerationRequest) -> Generation:
    """A `Generation` with exact usage and cost from a Messages API `Message` (the provider adds the latency).

    Input tokens add the cache reads (and any cache writes) to `input_tokens`, which Anthropic
    reports without them; output tokens include thinking.
    """
    if isinstance(message, str):  # (the SDK's way with a body that is not JSON: its text)
        raise MalformedResponse(not_json(message))
    content = getattr(message, "content", None)
    usage = getattr(message, "usage", None)
    stop_reason = getattr(message, "stop_reason", None)
    if stop_reason == "refusal":
        details = getattr(message, "stop_details", None)
        billed = _usage(usage) if usage is not None else None
        raise ContentFiltered(
            f"Claude declined to answer: {getattr(details, 'explanation', None) or 'refusal'}",
            status_code=200,
            body=message.model_dump() if hasattr(message, "model_dump") else None,
            usage=billed,  # (billed as any answer)
            reported_cost=None if billed is None else _billed(usage, request.model, request.model.cost(billed)),
        )
    if isinstance(content, list) and usage is not None and stop_reason is None:  # (a stream without its message_delta)
        raise MalformedResponse(
            "the message stream ended without a stop reason (no message_delta event): the answer is incomplete"
        )
    if not isinstance(content, list) or usage is None or not isinstance(stop_reason, str):
        raise MalformedResponse("message without content, usage or stop reason")
    tokens = _usage(usage)
    if tokens is None:
        raise MalformedResponse("message usage without token counts")
    texts: list[str] = []
    for block in content:
        kind = getattr(block, "type", None)
        if not isinstance(kind, str):  # (`"content": [5]`, a block without its type: it was read as an empty answer)
            raise MalformedResponse(f"message with a content block that is not a typed block: {one_line(repr(block))}")
        if kind == "text":
            piece = getattr(block, "text", None)
            if not isinstance(piece, str):  # (a gateway's: joined, it failed the run with a bare TypeError)
                raise MalformedResponse(f"message with a text block whose text is not a string: {piece!r}")
            texts.append(piece)
    text = "".join(texts)
    finish = _FINISH.get(stop_reason, stop_reason)
    text, cut = _cut_at_whitespace_stops(text, request.stop)
    if cut:
        finish = "stop"
    if request.json_output:
        text = unwrap_json_object(text)
    cost = request.model.cost(tokens)
    return Generation(
        text=text,
        usage=tokens,
        finish_reason=finish,
        model_name=request.model.name,
        cost=cost,
        response_model=_text(getattr(message, "model", None)),
        # (every field given: the orchestrator then shares its field set with others)
        reported_cost=_billed(usage, request.model, cost),
    )


def _billed(usage: Any, model: ModelProfile, cost: float) -> float | None:
    """What Anthropic bills for a call whose usage costs `cost` at the catalog's prices, when that is more: with its
    prompt-cache writes' premium (`_cache_write_premium`), and every rate 1.1 times over for inference run in the
    US only (`usage.inference_geo: "us"`, asked for by a request or set as the workspace's default); None when it
    is `cost`."""
    premium = _cache_write_premium(usage, model)
    us_only = getattr(usage, "inference_geo", None) == "us"
    if not premium and not us_only:
        return None
    if not us_only:
        return add_costs(cost, premium)
    billed = (Decimal(repr(cost)) + Decimal(repr(premium))) * _US_ONLY
    return float(billed.quantize(_PLACES))


def _cache_write_premium(usage: Any, model: ModelProfile) -> float:
    """What the call's prompt-cache writes cost above the input price `ModelProfile.cost` counts them at: a quarter
    of it per token written to the 5-minute cache (`cache_creation.ephemeral_5m_input_tokens`, or
    `cache_creation_input_tokens` without that breakdown: 5 minutes is the default), as much again per token
    written to the 1-hour cache (`ephemeral_1h_input_tokens`). 0.0 when nothing was written."""
    written = _int(getattr(usage, "cache_creation_input_tokens", 0))
    if written <= 0 or not model.input_cost_per_1k:
        return 0.0
    breakdown = getattr(usage, "cache_creation", None)
    hour = min(max(_int(getattr(breakdown, "ephemeral_1h_input_tokens", 0)), 0), written)
    per_token = Decimal(repr(model.input_cost_per_1k)) / 1000
    premium = per_token * ((written - hour) * _CACHE_WRITE_PREMIUM_5M + hour * _CACHE_WRITE_PREMIUM_1H)
    return float(premium.quantize(_PLACES))


def _usage(usage: Any) -> Usage | None:
    """The `Usage` of a Messages API `usage` object (None without token counts): input tokens add the cache reads and
    writes, which Anthropic reports apart; output tokens include thinking."""
    input_tokens, output_tokens = getattr(usage, "input_tokens", None), getattr(usage, "output_tokens", None)
    if not isinstance(input_tokens, int) or not isinstance(output_tokens, int):
        return None
    cache_read = _int(getattr(usage, "cache_read_input_tokens", 0))
    cache_write = _int(getattr(usage, "cache_creation_input_tokens", 0))
    return Usage(
        input_tokens=input_tokens + cache_read + cache_write,
        output_tokens=output_tokens,
        cached_input_tokens=cache_read,
        reasoning_tokens=_int(getattr(getattr(usage, "output_tokens_details", None), "thinking_tokens", 0)),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
