"""The request of `/v1/chat/completions`, parsed and checked as OpenAI does (400 with the offending `param`).

Orchestration settings ride in the request as extra top-level fields (the openai SDK's
`extra_body`) or in a nested `orchestratex` object; unknown fields are refused, as OpenAI refuses
them, so a misspelt `cost_limit` never passes unnoticed.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import from_json

from ..usage import MAX_AMOUNT
from ._bodies import GivenTwice, object_once
from ._errors import quoted
from ._numbers import Flag, Integer, Number
from ._openai_errors import OpenAIError
from ._openai_invalid import explain, first_error
from ._schemas import Domain

__all__ = [
    "ChatMessageIn",
    "ChatRequest",
    "ContentPart",
    "OrchestrationOptions",
    "StreamOptions",
    "parse_chat_request",
    "shown_name",
]


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: Flag | None = False
    """Send a last chunk with `usage` (every call, judges included) and no choices. `null` is not set, as a top-level
    field's `null` is (clients with an optional boolean send it so)."""


class OrchestrationOptions(BaseModel):
    """Orchestration settings of one call: top-level fields (`extra_body`) or the `orchestratex` object."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    session_id: str | None = Field(default=None, min_length=1, max_length=64)
    """Run in this session of the caller (its budget and rate limit); default: the caller's own `/v1` session."""
    thread_id: str | None = Field(default=None, min_length=1, max_length=64)
    """Add to this thread of the caller; default: a new thread per call."""
    cost_limit: Number | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    """US dollars this call may spend, judges included."""
    max_iterations: Integer | None = Field(default=None, ge=1, le=50)
    evaluation_threshold: Number | None = Field(
        default=None, ge=0, le=10, validation_alias=AliasChoices("evaluation_threshold", "threshold")
    )
    preferred_models: list[str] | None = Field(default=None, min_length=1, max_length=100)
    """Route only among these models (with a preset; a concrete `model` is the only one already)."""
    patience: Integer | None = Field(default=None, ge=1)
    domain: Domain = None
    """The task's domain, read as a run reads it (a built-in domain misspelt is refused here, naming `domain`)."""
    stream_events: Flag = False
    """With `stream: true`, also send each orchestration event (and each draft's text) as a chunk with no
    choices and an `orchestratex` field."""


_OPTION_NAMES = frozenset({*OrchestrationOptions.model_fields, "threshold"})


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None


class ChatRequest(BaseModel):
    """The body of `POST /v1/chat/completions`."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    model: str = Field(min_length=1)
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: Flag | None = False
    stream_options: StreamOptions | None = None
    temperature: Number | None = Field(default=None, ge=0, le=2)
    top_p: Number | None = Field(default=None, ge=0, le=1)
    presence_penalty: Number | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: Number | None = Field(default=None, ge=-2, le=2)
    seed: Integer | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    """Sampling parameters: checked as OpenAI checks them, then not acted on (each model samples as its provider
    does by default)."""
    max_tokens: Integer | None = Field(default=None, ge=1)
    max_completion_tokens: Integer | None = Field(default=None, ge=1)
    n: Integer | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    function_call: Any = None
    response_format: dict[str, Any] | None = None
    logprobs: Flag | None = None
    top_logprobs: Integer | None = Field(default=None, ge=0, le=20)
    modalities: list[str] | None = None
    audio: Any = None
    web_search_options: Any = None
    moderation: Any = None
    store: Flag | None = None
    parallel_tool_calls: Flag | None = None
    """Accepted with `tools` (as booleans, as OpenAI checks them) and not acted on."""
    user: str | None = None
    metadata: dict[str, str] | None = None
    service_tier: str | None = None
    reasoning_effort: str | None = None
    verbosity: str | None = None
    prompt_cache_key: str | None = None
    safety_identifier: str | None = None
    logit_bias: dict[str, Number] | None = None
    prediction: dict[str, Any] | None = None
    prompt_cache_retention: str | None = None
    prompt_cache_options: dict[str, Any] | None = None
    """Accepted with OpenAI's types and not acted on: sampling is each model's own, and nothing here is billed per
    them."""
    orchestratex: OrchestrationOptions | None = None

    @property
    def stop_sequences(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    @property
    def output_cap(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens


def parse_chat_request(raw: bytes) -> tuple[ChatRequest, OrchestrationOptions]:
    """Parse and check a request body, and gather its orchestration settings (from the `orchestratex`
    object and the extra top-level fields); every refusal is a 400 naming the parameter."""
    if raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark (PowerShell's files): JSON's parsers skip it too
        raw = raw[3:]
    try:  # (pydantic's parser: a nesting too deep or a lone surrogate escape is refused here, not a 500 later)
        data = from_json(raw)
    except ValueError as exc:
        raise OpenAIError(400, _not_json(raw, exc), code="invalid_json") from None
    if not isinstance(data, dict):
        raise OpenAIError(400, "the request body must be a JSON object", code="invalid_json")
    _each_name_once(raw)
    _one_threshold(data)
    if isinstance(data.get("orchestratex"), dict):
        _one_threshold(data["orchestratex"], " in `orchestratex`")
    try:
        request = ChatRequest.model_validate(data)
        options = _options(request)
    except ValidationError as exc:
        err = first_error(exc)
        loc = [str(p) for p in err["loc"]]
        if loc == ["orchestratex"]:
            raise OpenAIError(
                400,
                f"orchestratex must be a JSON object of orchestration settings ({_settings_list()})",
                param="orchestratex",
                code="invalid_value",
            ) from None
        if err["type"] == "extra_forbidden" and loc[0] == "orchestratex":
            raise _unknown([".".join(loc[1:])], where="in `orchestratex`") from None
        param = ".".join(shown_name(p) for p in loc if p != "orchestratex") or None
        raise OpenAIError(400, f"{param or 'body'}: {explain(err)}", param=param, code="invalid_value") from None
    _check_supported(request)
    return request, options


def _not_json(raw: bytes, exc: ValueError) -> str:
    """Why `raw` is not read as JSON: its bytes are not UTF-8 (Windows PowerShell 5.1's `Invoke-RestMethod` sends a
    string body in ISO-8859-1, its `Out-File` writes UTF-16), said as `/api` says it, else the parser's words. A body
    with an `é` in Latin-1 was "not valid JSON: invalid unicode code point at line 1 column 71", blaming its JSON."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as undecoded:
        return (
            f"the request body is not UTF-8 (byte {raw[undecoded.start]:#04x} at {undecoded.start}): send JSON in UTF-8"
        )
    return f"the request body is not valid JSON: {exc}"


def _each_name_once(raw: bytes) -> None:
    """400 naming a field given twice in one object of the body (`{"cost_limit": 0.05, ..., "cost_limit": 5}`, two
    fragments of a templated body merged): JSON parsers keep the last value, so the limit written first was dropped
    without a word. Which one was meant is not for the server to guess, as `/api` refuses it too."""
    try:
        json.loads(raw, object_pairs_hook=object_once)
    except GivenTwice as twice:
        name = shown_name(twice.name)
        raise OpenAIError(
            400,
            f"{name!r} is given more than once in an object of the request body: give each field once",
            param=name,
            code="invalid_value",
        ) from None
    except ValueError:  # (what the first parser took and this one does not, a number of 5,000 digits: not this check's)
        pass


def _one_threshold(fields: dict[str, Any], where: str = "") -> None:
    """`threshold` is `evaluation_threshold`'s short name: both given is one setting twice (pydantic would call one
    of them an unknown field)."""
    if "threshold" in fields and "evaluation_threshold" in fields:
        raise OpenAIError(
            400,
            f"threshold and evaluation_threshold are the same setting (threshold is its short name), both given{where}:"
            " give one",
            param="threshold",
            code="invalid_value",
        )


def _options(request: ChatRequest) -> OrchestrationOptions:
    extra = dict(request.model_extra or {})
    unknown = sorted(k for k in extra if k not in _OPTION_NAMES)
    if unknown:
        raise _unknown(unknown)
    top = {k: v for k, v in extra.items() if k in _OPTION_NAMES}
    if request.orchestratex is None:
        return OrchestrationOptions.model_validate(top)
    nested = request.orchestratex.model_dump(exclude_unset=True)
    both = set(top) & (set(nested) | ({"threshold"} if "evaluation_threshold" in nested else set()))
    if both:
        name = sorted(both)[0]
        raise OpenAIError(
            400, f"{name} is given twice: at the top level and in `orchestratex`", param=name, code="invalid_value"
        )
    return OrchestrationOptions.model_validate({**nested, **top})


def _settings_list() -> str:
    return ", ".join(sorted(n for n in _OPTION_NAMES if n != "threshold"))


def _unknown(names: list[str], where: str = "") -> OpenAIError:
    shown = [shown_name(name) for name in names]
    listed = ", ".join(shown) + (f" {where}" if where else "")
    return OpenAIError(
        400,
        f"Unrecognized request argument supplied: {listed} (orchestration settings are: {_settings_list()})",
        param=shown[0],
        code="unknown_parameter",
    )


def shown_name(name: str) -> str:
    """A field name as an error says it (its message and `param`): cut past 80 characters, saying how long it was, as
    `/api` cuts one. A document sent as a key (`{text: 1}`, the text in a variable) came back whole, twice."""
    return name if len(name) <= 80 else f"{name[:40]}… ({len(name)} characters)"


def _refuse(param: str, message: str) -> OpenAIError:
    return OpenAIError(400, message, param=param, code="unsupported_parameter")


_NOT_DONE = (
    ("audio", "audio output is not supported: only text answers are"),
    ("web_search_options", "web search is not supported"),
    ("moderation", "moderation is not supported: nothing here would block or score the content"),
)
"""Parameters refused whatever their value (`moderation` too: a caller asking to block content must know it is not
done)."""


def _check_tools_given(request: ChatRequest) -> None:
    """`tool_choice` (but `"none"`, taken as vLLM takes it) and `parallel_tool_calls` only with `tools`, as OpenAI
    refuses them, in its words: they were accepted, and a client built against `/v1` failed on OpenAI's API."""
    if request.tools:
        return
    for param, value in (("tool_choice", request.tool_choice), ("parallel_tool_calls", request.parallel_tool_calls)):
        if value is not None and not (param == "tool_choice" and value == "none"):
            message = f"Invalid value for '{param}': '{param}' is only allowed when 'tools' are specified."
            raise OpenAIError(400, message, param=param, code="invalid_value")


def _one_output_cap(request: ChatRequest) -> None:
    """400 for `max_tokens` and `max_completion_tokens` of different values: OpenAI refuses the two together, and
    taking one of them silently capped the answers at a limit the caller may not have meant. The same value under both
    names (a client written for old and new servers alike) is taken."""
    tokens, completion = request.max_tokens, request.max_completion_tokens
    if tokens is not None and completion is not None and tokens != completion:
        raise OpenAIError(
            400,
            f"max_tokens ({tokens}) and max_completion_tokens ({completion}) disagree: send one of them"
            " (max_completion_tokens, OpenAI's current name for it)",
            param="max_tokens",
            code="invalid_value",
        )


def _check_response_format(given: dict[str, Any] | None) -> None:
    """400 for a `response_format` other than text, or without a `type` (`{}`: OpenAI refuses it)."""
    if given is None:
        return
    if "type" not in given:
        raise OpenAIError(
            400,
            'response_format needs a type: {"type": "text"} (the only one supported)',
            param="response_format.type",
            code="invalid_value",
        )
    fmt = given["type"]
    if fmt != "text":
        said = quoted(fmt) if isinstance(fmt, str) else shown_name(repr(fmt))  # (a type of any length, cut)
        raise _refuse("response_format", f"response_format {said} is not supported: only text answers are")


def _check_supported(request: ChatRequest) -> None:
    if request.n is not None and request.n != 1:
        raise _refuse("n", "n must be 1: an orchestration gives one answer (its best one)")
    _check_tools_given(request)
    offered = "tools" if request.tools else "functions" if request.functions else None
    choice = request.tool_choice if offered == "tools" else request.function_call
    if offered is not None and choice != "none":  # ("none": no tool may be called, the answer is text: honoured)
        raise _refuse(
            offered,
            f"{offered} are not supported: OrchestrateX orchestrates text answers (no tool calls);"
            f' with {"tool_choice" if offered == "tools" else "function_call"}: "none" they are accepted and not'
            " offered to the models",
        )
    for param, value in (("tool_choice", request.tool_choice), ("function_call", request.function_call)):
        if value not in (None, "none", "auto"):
            raise _refuse(param, f"{param} is not supported: OrchestrateX orchestrates text answers (no tool calls)")
    _check_response_format(request.response_format)
    if request.logprobs or request.top_logprobs:
        param = "logprobs" if request.logprobs else "top_logprobs"
        raise _refuse(param, f"{param} are not supported: the answer is chosen by judges, not sampled once")
    for param, why in _NOT_DONE:
        if getattr(request, param) is not None:
            raise _refuse(param, why)
    if request.modalities and set(request.modalities) - {"text"}:
        raise _refuse("modalities", "only the text modality is supported")
    _one_output_cap(request)
    stops = request.stop_sequences
    if len(stops) > 4 or any(not s for s in stops):
        raise OpenAIError(400, "stop: up to 4 non-empty sequences", param="stop", code="invalid_value")
    if request.stream_options is not None and not request.stream:
        raise OpenAIError(
            400, "stream_options is only allowed when stream is true", param="stream_options", code="invalid_value"
        )
