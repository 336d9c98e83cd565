"""Protocol mapping: `GenerationRequest` → Chat Completions / Responses parameters, and their answers → `Generation`.

Pure functions over plain data and the SDK's response objects; no I/O, no client.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Any, Literal, get_args, get_origin

from orchestratex._prices import cache_write_ratio, service_tier_ratios, vendor_price
from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import (
    ContentFiltered,
    ContextLengthExceeded,
    MalformedResponse,
    ProviderError,
    ProviderHTTPError,
    ProviderServerError,
    RateLimited,
)
from orchestratex.providers import Generation, GenerationRequest, unwrap_json_object
from orchestratex.providers._support import not_json, one_line
from orchestratex.usage import Usage

from ._thinking import without_thinking

_logger = logging.getLogger("orchestratex.providers.openai")

__all__ = [
    "FINISH_REASONS",
    "alternated",
    "billed_usage",
    "chat_params",
    "chat_usage",
    "content_text",
    "cut_short",
    "estimated_usage",
    "generation_from_chat",
    "generation_from_response",
    "is_reasoning_model",
    "reported_cost",
    "response_error",
    "response_model",
    "response_params",
    "responses_only_models",
    "system_folded",
    "unstated_finish",
    "unwrap_json_object",
]

JSON_INSTRUCTION = "Answer with a single JSON object and nothing else."
JUDGE_REASONING_EFFORT = "low"
"""The reasoning effort a reasoning model is asked to judge with. At the default (`medium`) a judge's reasoning, which
counts toward its output cap (the orchestrator's `judge_max_output_tokens`, 512), could spend the whole cap on a
verdict of a few dozen tokens, leaving none for the verdict: the call came back empty and failed. `low` is one every
reasoning model of OpenAI's takes but those that reason at one effort only (`gpt-5-pro`: see the provider)."""
_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5", "gpt-6")
FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "eos_token": "stop",  # Hugging Face TGI's names (its `FinishReason`: `length`, `eos_token`, `stop_sequence`)
    "stop_sequence": "stop",
    "model_length": "length",  # Mistral's: the model's context window ran out (as Anthropic's
    # `model_context_window_exceeded`), the answer cut there
}
"""Finish reasons by their normalised (OpenAI) name, for answers and streams; any other is passed on as sent."""
_CUT_SHORT = frozenset({"abort", "error", "insufficient_system_resource"})
"""Finish reasons of an answer the server stopped before the model ended it: vLLM's `abort` and `error` (its engine
aborted, or failed), DeepSeek's `insufficient_system_resource` ("the request is interrupted due to insufficient
resource of the inference system")."""


def unstated_finish(usage: Any, request: GenerationRequest) -> str | None:
    """The finish reason of a whole answer that states none (`finish_reason: null` to the end, as some gateways and
    proxies send it), read from its `usage` — sent once the answer is complete, so it was not cut off: `length` when
    it used the whole output cap, else `stop`; None without usage (an answer that may have been cut off)."""
    tokens = getattr(usage, "completion_tokens", None) if usage is not None else None
    if not isinstance(tokens, int) or isinstance(tokens, bool):
        return None
    return "length" if tokens >= request.max_output_tokens else "stop"


def cut_short(finish: object) -> ProviderServerError | None:
    """The error an answer the server stopped early (vLLM's `abort` or `error` finish, DeepSeek's
    `insufficient_system_resource`) stands for, else None: a server failure, retried, rather than a partial answer
    judged as if it were whole."""
    if finish not in _CUT_SHORT:
        return None
    return ProviderServerError(
        f"the server stopped the answer before the model ended it (finish_reason {finish!r})", status_code=500
    )


@cache
def responses_only_models() -> frozenset[str]:
    """Model ids the installed SDK accepts only on the Responses API (in `ResponsesModel`, not in `ChatModel`)."""
    from openai.types.shared.chat_model import ChatModel
    from openai.types.shared.responses_model import ResponsesModel

    def literals(tp: Any) -> set[str]:
        if get_origin(tp) is Literal:
            return {v for v in get_args(tp) if isinstance(v, str)}
        return {v for arg in get_args(tp) for v in literals(arg)}

    return frozenset(literals(ResponsesModel) - literals(ChatModel))


def is_reasoning_model(model_id: str) -> bool:
    """Whether `model_id` is an OpenAI reasoning model, which rejects `temperature` and `stop`."""
    base = model_id.rsplit("/", 1)[-1]
    return base.startswith(_REASONING_PREFIXES) and "-chat" not in base


def _wants_json_instruction(request: GenerationRequest) -> bool:
    # OpenAI's JSON mode requires the word "JSON" in the conversation.
    return request.json_output and not any("json" in m.content.lower() for m in request.messages)


def chat_params(request: GenerationRequest, *, max_tokens_param: str, reasoning: bool) -> dict[str, Any]:
    """Keyword arguments for `client.chat.completions.create`."""
    messages: list[dict[str, str]] = [{"role": m.role, "content": m.content} for m in request.messages]
    if _wants_json_instruction(request):
        messages.insert(0, {"role": "system", "content": JSON_INSTRUCTION})
    params: dict[str, Any] = {
        "model": request.model.version,
        "messages": messages,
        max_tokens_param: request.max_output_tokens,
    }
    if request.temperature is not None and not reasoning:
        params["temperature"] = request.temperature
    if request.stop and not reasoning:
        params["stop"] = request.stop
    if reasoning and request.purpose == "judge":
        params["reasoning_effort"] = JUDGE_REASONING_EFFORT
    if request.json_output:
        params["response_format"] = {"type": "json_object"}
    return params


def system_folded(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """`messages` without their system messages, whose text goes before the first user message's: for a model whose
    chat template refuses a system role (Gemma's, served by vLLM or llama.cpp: "System role not supported")."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if not system:
        return rest
    for message in rest:
        if message["role"] == "user":
            message["content"] = f"{system}\n\n{message['content']}"
            return rest
    return [{"role": "user", "content": system}, *rest]


OPENING_TURN = "."
"""The user turn put before a conversation that opens with an assistant turn, for a model whose chat template takes
user turns first (as LiteLLM does for Anthropic's older API)."""


def alternated(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """`messages` with turns of one role in a row joined into one (their texts a blank line apart), and a user turn
    (`OPENING_TURN`) before an assistant turn that comes first after the system message: for a model whose chat
    template refuses either ("Conversation roles must alternate user/assistant/user/assistant/...": Mistral's, Llama
    2's, Gemma's), as a conversation's tool results, a group chat's speakers or the turns around an empty one left out
    come in a row, and a chat's greeting ("Hi! How can I help?") comes before the user's first turn."""
    out: list[dict[str, str]] = []
    for message in messages:
        if out and message["role"] == out[-1]["role"]:
            out[-1] = {**out[-1], "content": f"{out[-1]['content']}\n\n{message['content']}"}
        else:
            out.append(dict(message))
    first = next((i for i, m in enumerate(out) if m["role"] != "system"), None)
    if first is not None and out[first]["role"] == "assistant":
        out.insert(first, {"role": "user", "content": OPENING_TURN})
    return out


def response_params(request: GenerationRequest, *, reasoning: bool) -> dict[str, Any]:
    """Keyword arguments for `client.responses.create` (stateless: `store=False`)."""
    instructions = request.system
    if _wants_json_instruction(request):
        instructions = f"{instructions}\n\n{JSON_INSTRUCTION}" if instructions else JSON_INSTRUCTION
    params: dict[str, Any] = {
        "model": request.model.version,
        "input": [{"role": m.role, "content": m.content} for m in request.messages if m.role != "system"],
        "max_output_tokens": request.max_output_tokens,
        "store": False,
    }
    if instructions:
        params["instructions"] = instructions
    if request.temperature is not None and not reasoning:
        params["temperature"] = request.temperature
    if reasoning and request.purpose == "judge":
        params["reasoning"] = {"effort": JUDGE_REASONING_EFFORT}
    if request.json_output:
        params["text"] = {"format": {"type": "json_object"}}
    return params


def _cut_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    cuts = [i for i in (text.find(s) for s in stop or ()) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


def _generation(
    text: str,
    finish: str,
    usage: Usage,
    request: GenerationRequest,
    *,
    stop_sent: bool,
    reported: float | None = None,
    answered_by: object = None,
    writes: int = 0,
    tier: object = None,
) -> Generation:
    if not stop_sent and request.stop:
        text, cut = _cut_at_stop(text, request.stop)
        finish = "stop" if cut else finish
    if request.json_output:
        text = unwrap_json_object(text)
    return Generation(
        text=text,
        usage=usage,
        finish_reason=finish,
        model_name=request.model.name,
        cost=request.model.cost(usage),
        response_model=response_model(answered_by),
        reported_cost=reported if reported is not None else billed_cost(usage, request.model, writes=writes, tier=tier),
    )


def cache_writes(details: Any) -> int:
    """The prompt tokens an answer says were written to the prompt cache: `cache_write_tokens` of its usage's
    `prompt_tokens_details` (Chat Completions) or `input_tokens_details` (Responses)."""
    return _int(getattr(details, "cache_write_tokens", 0))


_BILLS_WRITES = re.compile(r"gpt-(\d+)(?:\.(\d+))?(?![\d.])")
"""An OpenAI model id's GPT version: from the GPT-5.6 family on, a prompt-cache write is billed at 1.25 times the
input price (earlier models write to the cache at no extra cost)."""
_WRITE_RATIO = Decimal("1.25")
_PLACES = Decimal("1e-12")
_TICKS_PER_USD = 10**10


@cache
def _write_ratio(model_id: str) -> Decimal | None:
    """What a prompt-cache write of `model_id` costs, as a multiple of its input price: the price source's (see
    `orchestratex._prices`), or for a model it does not list (one the shipped catalog prices itself, such as
    GPT-6.2 Sol) 1.25 from the GPT-5.6 family on; None for a model that bills no write."""
    if vendor_price("openai", model_id) is not None:
        return cache_write_ratio("openai", model_id)
    return _WRITE_RATIO if _from_gpt_5_6(model_id) else None


def _from_gpt_5_6(model_id: str) -> bool:
    """Whether `model_id` is an OpenAI model of the GPT-5.6 family or a later one."""
    found = _BILLS_WRITES.search(model_id)
    return found is not None and (int(found[1]), int(found[2] or 0)) >= (5, 6)


_TIER_RATIOS = {"priority": Decimal(2), "flex": Decimal("0.5")}
"""What a service tier multiplies every price of a model of the GPT-5.6 family on by, as the price source lists it for
each of them (for a model it does not list, such as GPT-6.2 Sol)."""


@cache
def _tier_ratios(model_id: str, tier: str) -> tuple[Decimal, Decimal, Decimal] | None:
    """What `model_id`'s input, output and cached-input prices are multiplied by at service tier `tier`: the price
    source's (`service_tier_ratios`), or for a model of the GPT-5.6 family on that it does not list `_TIER_RATIOS`;
    None for the default tier (or one whose prices are unknown)."""
    if vendor_price("openai", model_id) is not None:
        return service_tier_ratios("openai", model_id, tier)
    ratio = _TIER_RATIOS.get(tier)
    return (ratio, ratio, ratio) if ratio is not None and _from_gpt_5_6(model_id) else None


def billed_cost(usage: Usage, model: ModelProfile, *, writes: int = 0, tier: object = None) -> float | None:
    """What OpenAI bills for `usage` when it is not the catalog price of it, else None: with `writes` of its input
    tokens written to the prompt cache by a model that bills a write above the input price (OpenAI's GPT-5.6 family
    on, at 1.25 times it: `_write_ratio`), and every price multiplied as the source's prices for the service tier
    the call was served at say (`tier`: the answer's `service_tier`, `priority` or `flex`, which a project can set
    as its default: `service_tier_ratios`)."""
    if not model.priced:
        return None
    ratios = _tier_ratios(model.version, tier) if isinstance(tier, str) else None
    write_ratio = _write_ratio(model.version) if writes > 0 else None
    if write_ratio is not None and write_ratio <= 1:
        write_ratio = None
    if ratios is None and write_ratio is None:
        return None
    r_in, r_out, r_cached = ratios or (Decimal(1), Decimal(1), Decimal(1))
    p_in, p_out = Decimal(repr(model.input_cost_per_1k)), Decimal(repr(model.output_cost_per_1k))
    cached_price = model.cached_input_cost_per_1k
    p_cached = p_in if cached_price is None else Decimal(repr(cached_price))
    cached = min(usage.cached_input_tokens, usage.input_tokens)
    written = min(writes, usage.input_tokens - cached) if write_ratio is not None else 0
    fresh = usage.input_tokens - cached - written
    total = (
        (fresh + written * (write_ratio or 1)) * p_in * r_in
        + cached * p_cached * r_cached
        + usage.output_tokens * p_out * r_out
    ) / 1000
    return float(total.quantize(_PLACES))


def response_model(value: object) -> str | None:
    """The `model` a response says answered (a non-empty text), else None."""
    return value if isinstance(value, str) and value.strip() else None


def reported_cost(usage: Any) -> float | None:
    """The cost an OpenAI-compatible server reports in `usage.cost` (OpenRouter does, in US dollars), or in
    `usage.cost_in_usd_ticks` (xAI does, in ten-billionths of a dollar: what it billed, cache discounts, its
    long-context prices and server-side tools included), if any.

    With your own provider key behind OpenRouter (BYOK), `cost` is only what OpenRouter charges (its fee); the
    inference itself is billed to your key, `cost_details.upstream_inference_cost` (set for BYOK requests only):
    the call cost both, so both are counted."""
    cost = _usage_field(usage, "cost")
    if not _amount(cost):
        ticks = _usage_field(usage, "cost_in_usd_ticks")  # (xAI's: the exact bill, in 1e-10 $)
        return ticks / _TICKS_PER_USD if _amount(ticks) and isinstance(ticks, int) else None
    details = _usage_field(usage, "cost_details")
    upstream: Any = details.get("upstream_inference_cost") if isinstance(details, dict) else None
    if _usage_field(usage, "is_byok") is not False and _amount(upstream):
        return float(cost) + float(upstream)
    return float(cost)


def _usage_field(usage: Any, name: str) -> Any:
    """A field of a usage object, a declared one or one the SDK keeps as extra (`cost`, `cost_details`, `is_byok`)."""
    value = getattr(usage, name, None)
    if value is None and hasattr(usage, "model_extra"):
        value = (usage.model_extra or {}).get(name)
    return value


def _amount(value: object) -> bool:
    """Whether `value` is an amount of money: a finite number, not negative (not a boolean)."""
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value) and value >= 0


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _cached_of(reported: Any, prompt_tokens: int) -> int:
    """The cached input tokens of a prompt of `prompt_tokens`, which count them: no more than those (a server reporting
    more had its excess counted as more input read from the cache, billed at the cache-hit price)."""
    cached = _int(reported)
    if cached > prompt_tokens:
        _logger.debug("%d cached input tokens reported of %d: counted as %d", cached, prompt_tokens, prompt_tokens)
        return max(prompt_tokens, 0)
    return cached


def content_text(content: object) -> str | None:
    """The answer's text in a message's (or a stream delta's) `content`: a string, or a list of typed blocks, as
    Mistral's reasoning models (Magistral) send it — `[{"type": "thinking", "thinking": [...]}, {"type": "text",
    "text": "4."}]` — whose `text` blocks are the answer (thinking is not); None for anything else (a number, a list
    of anything but typed blocks)."""
    if content is None or isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    texts = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else getattr(block, "type", None)
        if not isinstance(kind, str):  # (`[5]`, a block without its type: not an answer's blocks)
            return None
        text = block.get("text") if isinstance(block, dict) else getattr(block, "text", None)
        if kind == "text" and isinstance(text, str):
            texts.append(text)
    return "".join(texts)


def chat_usage(usage: Any) -> Usage:
    """The `Usage` of a Chat Completions `usage` object: `prompt_tokens` (cached ones included) and `completion_tokens`
    (reasoning included, as OpenAI counts them).

    Some servers report reasoning apart from `completion_tokens` while billing it as output: xAI's Grok counts
    `completion_tokens_details.reasoning_tokens` only in `total_tokens` (prompt + completion + reasoning). When the
    total says so, the reasoning is added to the output tokens, or the cost would leave it out.

    DeepSeek reports its cache hits as `prompt_cache_hit_tokens` (of `prompt_tokens`, beside
    `prompt_cache_miss_tokens`), not as `prompt_tokens_details.cached_tokens`, and bills them at its cache-hit price:
    they are the cached input tokens when OpenAI's field is absent (they were counted at the full input price), as
    are the `cached_tokens` Moonshot's Kimi, Zhipu's GLM and MiniMax report at the top level of `usage`."""
    prompt_tokens, completion_tokens = getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)
    if not isinstance(prompt_tokens, int) or not isinstance(completion_tokens, int):
        raise MalformedResponse("chat completion usage without token counts")
    reasoning = _int(getattr(getattr(usage, "completion_tokens_details", None), "reasoning_tokens", 0))
    total = getattr(usage, "total_tokens", None)
    if reasoning > 0 and isinstance(total, int) and total == prompt_tokens + completion_tokens + reasoning:
        completion_tokens += reasoning  # (reported apart, as xAI does: OpenAI's total is prompt + completion)
    cached = getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None)
    if not isinstance(cached, int):
        cached = _usage_field(usage, "prompt_cache_hit_tokens")  # (DeepSeek's)
    if not isinstance(cached, int):
        cached = _usage_field(usage, "cached_tokens")  # (Moonshot's Kimi, Zhipu's GLM, MiniMax: at usage's top level)
    return Usage(
        input_tokens=prompt_tokens,
        output_tokens=completion_tokens,
        cached_input_tokens=_cached_of(cached, prompt_tokens),
        reasoning_tokens=reasoning,
    )


def estimated_usage(request: GenerationRequest, text: str) -> Usage:
    """The usage of an answer from a free model's server that reports none (some local servers do not): about
    four characters a token. Only a free model's: a priced model's cost is never guessed."""
    model = request.model
    if model.input_cost_per_1k != 0 or model.output_cost_per_1k != 0:
        raise MalformedResponse(
            "the chat completion carried no usage: the cost of a priced model is unknown (a free model's, priced 0,"
            " would be estimated)"
        )
    chars = sum(len(m.content) for m in request.messages)
    return Usage(input_tokens=(chars + 3) // 4, output_tokens=(len(text) + 3) // 4)


def generation_from_chat(completion: Any, request: GenerationRequest, *, stop_sent: bool) -> Generation:
    """A `Generation` with exact usage and cost from a `ChatCompletion` (the provider adds the latency)."""
    if isinstance(completion, str):  # (the SDK's way with a body that is not JSON: its text)
        raise MalformedResponse(not_json(completion))
    choices = getattr(completion, "choices", None)
    usage = getattr(completion, "usage", None)
    if not choices:
        raise MalformedResponse("chat completion without choices")
    if not isinstance(choices, list):  # (a gateway's: it failed the run with a bare TypeError or KeyError)
        raise MalformedResponse(f"chat completion whose choices are not a list: {one_line(repr(choices))}")
    choice = choices[0]
    message = getattr(choice, "message", None)
    if not hasattr(message, "content"):  # (`"message": 5`, null or left out: it was read as an empty answer)
        shown = one_line(repr(choice if message is None else message))
        raise MalformedResponse(f"chat completion choice without a message object: {shown}")
    finish = getattr(choice, "finish_reason", None)
    written = content = content_text(getattr(message, "content", None))
    if content is not None:
        content = without_thinking(content)  # (a local reasoning model's `<think>…</think>`: not the answer)
    if finish is None and content:  # (a gateway that never states it)
        finish = unstated_finish(usage, request)
    if finish == "content_filter" or (not content and getattr(message, "refusal", None)):
        raise withheld(
            f"the answer was withheld: {getattr(message, 'refusal', None) or 'content filter'}",
            usage,
            request,
            getattr(completion, "service_tier", None),
            body=completion.model_dump() if hasattr(completion, "model_dump") else None,
        )
    if not isinstance(finish, str) or (content is None and getattr(message, "content", None) is not None):
        raise MalformedResponse("chat completion choice without a finish reason or text")
    failed = cut_short(finish)
    if failed is not None:
        raise failed
    finish = FINISH_REASONS.get(finish, finish)
    if usage is None:  # a local server that reports none: estimated for a free model, refused for a priced one
        answer, estimated = content or "", estimated_usage(request, written or "")  # (its thinking was written too)
        model = getattr(completion, "model", None)
        return _generation(answer, finish, estimated, request, stop_sent=stop_sent, answered_by=model)
    return _generation(
        content or "",
        finish,
        chat_usage(usage),
        request,
        stop_sent=stop_sent,
        reported=reported_cost(usage),
        answered_by=getattr(completion, "model", None),
        writes=cache_writes(getattr(usage, "prompt_tokens_details", None)),
        tier=getattr(completion, "service_tier", None),
    )


def withheld(
    message: str, usage: Any, request: GenerationRequest, tier: object, body: object = None, *, responses: bool = False
) -> ContentFiltered:
    """The `ContentFiltered` of an answer withheld by a content filter (or refused), billed as any answer: with its
    usage (a Chat Completions one, or with `responses` a Responses API one), and what the server said it cost or what
    the catalog's prices leave out (`billed_cost`), if any."""
    tokens = billed_usage(_response_usage if responses else chat_usage, usage)
    cost = None
    if tokens is not None:
        cost = reported_cost(usage)
        if cost is None:
            details = getattr(usage, "input_tokens_details" if responses else "prompt_tokens_details", None)
            cost = billed_cost(tokens, request.model, writes=cache_writes(details), tier=tier)
    return ContentFiltered(message, status_code=200, body=body, usage=tokens, reported_cost=cost)


def billed_usage(read: Callable[[Any], Usage], usage: Any) -> Usage | None:
    """`read(usage)` of an answer withheld by a content filter (billed as any answer: `ContentFiltered.usage`), or
    None when it came without usable usage."""
    if usage is None:
        return None
    try:
        return read(usage)
    except (MalformedResponse, TypeError, ValueError):
        return None


def _response_usage(usage: Any) -> Usage:
    """The `Usage` of a Responses API `usage` object."""
    input_tokens, output_tokens = getattr(usage, "input_tokens", None), getattr(usage, "output_tokens", None)
    if not isinstance(input_tokens, int) or not isinstance(output_tokens, int):
        raise MalformedResponse("response usage without token counts")
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=_cached_of(
            getattr(getattr(usage, "input_tokens_details", None), "cached_tokens", 0), input_tokens
        ),
        reasoning_tokens=_int(getattr(getattr(usage, "output_tokens_details", None), "reasoning_tokens", 0)),
    )


_POLICY_CODES = frozenset({"invalid_prompt", "bio_policy", "misalignment_policy_violation"})
_RETRYABLE_CODES = frozenset({"server_error", "vector_store_timeout"})
_RATE_LIMITED_CODES = frozenset({"rate_limit_exceeded", "slow_down"})
"""Codes of a failure that waiting cures: OpenAI's `slow_down` is its 429 asking a client to send less for a while."""
_OVERLOADED = "server_is_overloaded"
"""OpenAI's code (its 503's) for a model with no capacity left for now: retried, as a 5xx is."""


def response_error(code: str | None, message: str, *, streamed: bool = False) -> ProviderError:
    """The error a failed Responses API answer (`status: "failed"`, or an `error` event mid-stream) stands
    for, by its documented `code`: a policy block is `ContentFiltered` (not retried), `context_length_exceeded` (an
    input over the model's context window, said so in a stream) `ContextLengthExceeded`, `rate_limit_exceeded`
    is `RateLimited`, `server_error` (or no code) a retried `ProviderServerError`, and any other code (an
    image the request carries, …) a `ProviderHTTPError` that retrying would only repeat. `server_is_overloaded` and
    `slow_down`, which OpenAI may send in a stream's `response.failed` (its 503 and 429 said after a 200), are a
    retried `ProviderServerError` and `RateLimited` (taken as any other code, they were not retried)."""
    what = f"the response {'stream ' if streamed else ''}failed ({code or 'no code'}): {message}"
    if code == "context_length_exceeded":  # (how a stream says it: a `response.failed` event, after a 200)
        return ContextLengthExceeded(f"prompt too long: {what}", status_code=400)
    if code in _POLICY_CODES or (code and code.endswith("policy_violation")):
        return ContentFiltered(f"the answer was withheld: {message} ({code})", status_code=200)
    if code in _RATE_LIMITED_CODES:
        return RateLimited(what, status_code=429)
    if code == _OVERLOADED:
        return ProviderServerError(what, status_code=503)
    if code is None or code in _RETRYABLE_CODES:
        return ProviderServerError(what, status_code=500)
    return ProviderHTTPError(what, status_code=400)


def generation_from_response(response: Any, request: GenerationRequest) -> Generation:
    """A `Generation` with exact usage and cost from a Responses API `Response`."""
    if isinstance(response, str):  # (the SDK's way with a body that is not JSON: its text)
        raise MalformedResponse(not_json(response))
    status = getattr(response, "status", None)
    usage = getattr(response, "usage", None)
    if status == "failed":
        error = getattr(response, "error", None)
        code = getattr(error, "code", None)
        raise response_error(code if isinstance(code, str) else None, str(getattr(error, "message", error)))
    reason = getattr(getattr(response, "incomplete_details", None), "reason", None)
    tier = getattr(response, "service_tier", None)
    if reason == "content_filter":
        raise withheld("the answer was withheld by the content filter", usage, request, tier, responses=True)
    if usage is None or not isinstance(getattr(response, "output", None), list):
        raise MalformedResponse("response without output or usage")
    input_tokens, output_tokens = getattr(usage, "input_tokens", None), getattr(usage, "output_tokens", None)
    if not isinstance(input_tokens, int) or not isinstance(output_tokens, int):
        raise MalformedResponse("response usage without token counts")
    for item in response.output:
        parts = getattr(item, "content", None)
        if parts is not None and not isinstance(parts, list):  # (`"content": 5` failed the run with a bare TypeError)
            raise MalformedResponse(f"response output item whose content is not a list: {one_line(repr(parts))}")
        for part in parts or ():
            if getattr(part, "type", None) == "refusal":
                raise withheld(f"the answer was withheld: {part.refusal}", usage, request, tier, responses=True)
    if status is not None and not isinstance(status, str):
        raise MalformedResponse(f"response whose status is not a string: {one_line(repr(status))}")
    finish = "length" if reason == "max_output_tokens" else "stop" if status == "completed" else reason or status
    if not isinstance(finish, str):  # (a server that leaves the status out: its usage says the answer is whole)
        finish = "length" if output_tokens >= request.max_output_tokens else "stop"
    tokens = _response_usage(usage)
    answered_by = getattr(response, "model", None)
    return _generation(
        response.output_text,
        finish,
        tokens,
        request,
        stop_sent=False,
        answered_by=answered_by,
        writes=cache_writes(getattr(usage, "input_tokens_details", None)),
        tier=tier,
    )
