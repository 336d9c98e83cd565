"""Protocol mapping: `GenerationRequest` → `generate_content` arguments, and a `GenerateContentResponse` → `Generation`.

Pure functions; no I/O, no client.
"""

from __future__ import annotations

from typing import Any

from google.genai import types

from orchestratex.exceptions import AuthenticationError, ContentFiltered, MalformedResponse, UserError
from orchestratex.providers import Generation, GenerationRequest, unwrap_json_object
from orchestratex.usage import Usage

__all__ = [
    "JUDGE_BUDGETS",
    "JUDGE_THINKING",
    "NO_SDK_RETRIES",
    "account_blocked",
    "generate_content_args",
    "generation_from_response",
    "meta_usage",
    "model_version",
    "unwrap_json_object",
]

NO_SDK_RETRIES = types.HttpOptions(retry_options=types.HttpRetryOptions(attempts=1))
"""Per-request HTTP options: one attempt, so even an injected client never retries (the orchestrator does)."""

_ONE_REQUEST: dict[str, Any] = (
    {"automatic_continuation": False} if "automatic_continuation" in types.GenerateContentConfig.model_fields else {}
)
"""Per-request config: no follow-up requests. google-genai 3 follows a `CONTINUATION` answer's token itself by default
(Gemini 4's long decode: an answer past the per-request output limit), each request billed and its prompt read again,
and resumes a stream dropped after a checkpoint: one call was then several requests, a retry of the SDK's own, and its
input more than the budget reserved for. (An SDK without the field follows no token.)"""

_ROLES = {"user": "user", "assistant": "model"}
OPENING_TURN = "."
"""The user turn put before a conversation that opens with an assistant turn (a chat's greeting before the user's first
message): Gemini's API takes only turns that alternate from a user one ("Please ensure that multiturn requests
alternate between user and model."), as LiteLLM and LangChain4j put one before Anthropic's."""
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "CONTINUATION": "length"}
"""Finish reasons with an OpenAI name (`CONTINUATION`: the answer reached the per-request output limit before the
request's `maxOutputTokens`, and is cut there); any other (`MALFORMED_FUNCTION_CALL`, `OTHER`, …) is passed on
lower-cased."""
_FILTERED = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "MODEL_ARMOR",  # (Vertex AI: the answer was blocked by a Model Armor policy)
        "ESCALATION",  # (the Gemini API: "Request was filtered by an escalation rule")
    }
)


_ACCOUNT_BLOCKED = "PUP_LIMITED_DISABLED"
"""The finish reason of an answer stopped because the key's account is limited or disabled for Prohibited Use Policy
violations: every call with the key ends so."""


def account_blocked(finish: str) -> AuthenticationError | None:
    """The error an answer stopped with `finish` stands for when its account is blocked (`PUP_LIMITED_DISABLED`): a
    refused key, never retried (the run goes on with another provider's model), not a cut answer to judge."""
    if finish != _ACCOUNT_BLOCKED:
        return None
    return AuthenticationError(
        "Gemini stopped the answer: the key's account is limited or disabled for violations of the Prohibited Use"
        f" Policy (finishReason {_ACCOUNT_BLOCKED}); every call with this key will fail: use another key or account",
        status_code=403,
        key_rejected=True,
    )


JUDGE_THINKING = types.ThinkingConfig(thinking_level=types.ThinkingLevel.LOW)
"""How much a thinking model is asked to think when it judges. Its thinking counts toward its output cap (the
orchestrator's `judge_max_output_tokens`, 512), and Gemini 3's default level is `high`: a verdict of a few dozen tokens
came back empty (`MAX_TOKENS`), the cap spent thinking, and the judge failed, paid for. `LOW` is the lowest level
every model that takes levels has."""

JUDGE_BUDGETS = (0, 128)
"""The thinking budgets a judge is asked for, in turn, by a model that takes no thinking level (Gemini 2.5's, which
refuse one): 0 turns Flash's and Flash-Lite's thinking off; Pro cannot stop thinking ("Budget 0 is invalid. This model
only works in thinking mode.") and takes 128 tokens at least. Without a budget they think dynamically, up to 8,192
tokens, counted toward the judge's 512-token cap: the verdict came back empty (`MAX_TOKENS`)."""


def generate_content_args(
    request: GenerationRequest,
    *,
    system_instruction: bool = True,
    json_mode: bool = True,
    thinking_level: bool = True,
    thinking_budget: int | None = None,
) -> dict[str, Any]:
    """Keyword arguments for `client.aio.models.generate_content`. Without `system_instruction` (a model that refuses
    one: Gemma's, "Developer instruction is not enabled for models/gemma-3-27b-it") the system text goes at the start of
    the first user message; without `json_mode` ("JSON mode is not enabled for models/…") no `response_mime_type` is
    sent, the messages asking for JSON and the object being read from the answer's text. A judge is asked to think
    little (`JUDGE_THINKING`), unless `thinking_level` is off (a model that takes no thinking level: Gemini 2.5's take a
    budget, `thinking_budget`, Gemma's none)."""
    system = request.system
    folded = system is not None and not system_instruction
    turns: list[tuple[str, list[types.Part]]] = []
    for m in request.messages:
        if m.role == "system":
            continue
        text = m.content
        if folded and m.role == "user":
            text, folded = f"{system}\n\n{text}", False
        role = _ROLES[m.role]
        if turns and turns[-1][0] == role:  # (turns of one role in a row, which Gemini refuses: one turn of parts)
            turns[-1][1].append(types.Part(text=text))
        else:
            turns.append((role, [types.Part(text=text)]))
    if turns and turns[0][0] == "model":  # (a chat's greeting first: Gemini refuses a conversation opening so)
        turns.insert(0, ("user", [types.Part(text=OPENING_TURN)]))
    contents = [types.Content(role=role, parts=parts) for role, parts in turns]
    thinking = None
    if request.purpose == "judge":
        budget = None if thinking_budget is None else types.ThinkingConfig(thinking_budget=thinking_budget)
        thinking = JUDGE_THINKING if thinking_level else budget
    if not contents:
        raise UserError("a Gemini request needs at least one user message besides the system prompt")
    config = types.GenerateContentConfig(
        system_instruction=system if system_instruction else None,
        max_output_tokens=request.max_output_tokens,
        temperature=request.temperature,
        stop_sequences=request.stop or None,
        response_mime_type="application/json" if request.json_output and json_mode else None,
        thinking_config=thinking,
        http_options=NO_SDK_RETRIES,
        **_ONE_REQUEST,
    )
    return {"model": request.model.version, "contents": contents, "config": config}


def _name(value: Any) -> str | None:
    """An enum member's name, or the raw string the SDK kept for a value it does not know."""
    return getattr(value, "name", None) or (value if isinstance(value, str) else None)


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def generation_from_response(response: types.GenerateContentResponse, request: GenerationRequest) -> Generation:
    """A `Generation` with exact usage and cost (the provider adds the latency).

    Output tokens are `candidatesTokenCount` plus `thoughtsTokenCount`, which Gemini reports apart.
    """
    feedback = response.prompt_feedback
    block = _name(feedback.block_reason) if feedback is not None else None
    if block:
        raise ContentFiltered(
            f"Gemini blocked the prompt: {block} {feedback.block_reason_message or ''}".strip(),  # type: ignore[union-attr]
            status_code=200,
            body=response.model_dump(mode="json", exclude_none=True),
            usage=meta_usage(response.usage_metadata),  # (billed as reported)
        )
    candidates = response.candidates
    meta = response.usage_metadata
    if not candidates or meta is None or not isinstance(meta.prompt_token_count, int):
        raise MalformedResponse("response without candidates or usage metadata")
    candidate = candidates[0]
    finish = _name(candidate.finish_reason) or ""
    blocked = account_blocked(finish)
    if blocked is not None:
        raise blocked
    if finish in _FILTERED:
        raise ContentFiltered(
            f"Gemini withheld the answer: {finish}",
            status_code=200,
            body=response.model_dump(mode="json", exclude_none=True),
            usage=meta_usage(meta),  # (billed as any answer)
        )
    if not finish:  # ("If empty, the model has not stopped generating tokens", Gemini's reference says), as in a stream
        raise MalformedResponse(
            "the response has no finish reason: the model had not stopped, the answer is incomplete"
        )
    parts = candidate.content.parts if candidate.content is not None else None
    text = "".join(p.text for p in parts or () if p.text and not p.thought)
    if request.json_output:
        text = unwrap_json_object(text)
    usage = meta_usage(meta)
    if usage is None:
        raise MalformedResponse("response without candidates or usage metadata")
    return Generation(
        text=text,
        usage=usage,
        finish_reason=_FINISH.get(finish, finish.lower() or None),
        model_name=request.model.name,
        cost=request.model.cost(usage),
        response_model=model_version(response),
        reported_cost=None,  # (every field given: the orchestrator then shares its field set with others)
    )


def meta_usage(meta: types.GenerateContentResponseUsageMetadata | None) -> Usage | None:
    """The `Usage` of a response's `usageMetadata` (None without a prompt token count): output tokens are
    `candidatesTokenCount` plus `thoughtsTokenCount`, which Gemini reports apart."""
    if meta is None or not isinstance(meta.prompt_token_count, int):
        return None
    thoughts = _int(meta.thoughts_token_count)
    return Usage(
        input_tokens=meta.prompt_token_count,
        output_tokens=_int(meta.candidates_token_count) + thoughts,
        cached_input_tokens=_int(meta.cached_content_token_count),
        reasoning_tokens=thoughts,
    )


def model_version(response: types.GenerateContentResponse) -> str | None:
    """The `modelVersion` a response says answered, when it says."""
    version = response.model_version
    return version if isinstance(version, str) and version.strip() else None
