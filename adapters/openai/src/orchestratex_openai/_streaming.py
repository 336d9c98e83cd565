"""Protocol mapping for streamed answers: Chat Completions chunks and Responses events → text pieces + `Generation`.

Chat Completions streams with `stream_options={"include_usage": True}`: the last chunk carries the
exact usage (and no choice), and OpenRouter's `usage.cost`. A server that sends no usage has a free model's (a local
one, priced at zero) usage estimated; for a priced model, whose cost is never guessed, `NoStreamedUsage` carries the
answer without usage: the provider counts it at the call's reserved worst case, and asks that server for no stream
again (its unstreamed answers carry their usage).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Sequence
from typing import Any

from orchestratex.exceptions import MalformedResponse
from orchestratex.providers import Generation, GenerationRequest, TextSink
from orchestratex.providers._support import one_line
from orchestratex.usage import Usage

from ._mapping import (
    FINISH_REASONS,
    billed_cost,
    cache_writes,
    chat_usage,
    content_text,
    cut_short,
    estimated_usage,
    reported_cost,
    response_model,
    unstated_finish,
    withheld,
)
from ._thinking import ThinkingFilter

__all__ = ["NoStreamedUsage", "generation_from_chat_stream", "generation_from_response_stream"]


_NO_CHUNK = (
    "the chat completion stream held no chunk: an empty body, or an answer that is not server-sent events (a web page"
    " or a proxy's, not the API's: check the base URL)"
)


class NoStreamedUsage(MalformedResponse):
    """A priced model's stream ended without its usage: the server ignored `stream_options` (some gateways and older
    OpenAI-compatible servers do, silently), so the answer cannot be priced. `answer` is the answer, without usage."""

    def __init__(self, message: str, answer: Generation) -> None:
        super().__init__(message)
        self.answer = answer


async def generation_from_chat_stream(
    chunks: AsyncIterable[Any], request: GenerationRequest, on_text: TextSink, *, thinking: ThinkingFilter | None = None
) -> Generation:
    """Hand each content delta of a Chat Completions stream to `on_text`; the `Generation` once it ends. `thinking`
    filters a local reasoning model's thinking out (a new `ThinkingFilter` when not given)."""
    parts: list[str] = []
    written: list[str] = []
    """What the model wrote, its thinking included (what a usage estimate counts)."""
    finish: str | None = None
    usage: Any = None
    tier: object = None
    refusal: list[str] = []
    answered_by: str | None = None
    thinking = thinking or ThinkingFilter()  # (a local reasoning model's `<think>…</think>`: not the answer, not shown)
    seen = False
    async for chunk in chunks:
        seen = True
        if getattr(chunk, "usage", None) is not None:
            usage = chunk.usage
            tier = getattr(chunk, "service_tier", None)  # (the service tier it was billed at: each chunk says it)
        answered_by = answered_by or response_model(getattr(chunk, "model", None))
        for choice in _answer_choices(getattr(chunk, "choices", None) or []):
            if getattr(chunk, "usage", None) is None and isinstance(getattr(choice, "usage", None), dict):
                usage = _choice_usage(choice.usage)  # (Moonshot's Kimi: on the finish chunk's choice)
            delta = getattr(choice, "delta", None)
            piece = _delta_text(delta)
            written.append(piece)
            content = thinking.feed(piece)
            if content:
                parts.append(content)
                await on_text(content)
            if isinstance(getattr(delta, "refusal", None), str):
                refusal.append(delta.refusal)  # type: ignore[union-attr]
            finish = _finish(choice) or finish
    rest = thinking.flush()
    if rest:
        parts.append(rest)
        await on_text(rest)
    text = thinking.answer("".join(parts))  # (without a reasoning its template opened, found only at its end)
    if finish == "content_filter" or (not text and refusal):
        raise withheld(f"the answer was withheld: {''.join(refusal) or 'content filter'}", usage, request, tier)
    if finish is None and text:  # (a gateway that never states it: its usage, sent last, says the answer is whole)
        finish = unstated_finish(usage, request)
    if finish is None:  # (no chunk at all: a web page or a proxy's answered at the base URL, read as no event)
        raise MalformedResponse("the chat completion stream ended without a finish reason" if seen else _NO_CHUNK)
    failed = cut_short(finish)
    if failed is not None:
        raise failed
    return _answer(text, FINISH_REASONS.get(finish, finish), usage, tier, request, "".join(written), answered_by)


def _choice_usage(usage: dict[str, Any]) -> Any:
    """A chunk's choice's `usage` (an object the SDK keeps as a dict), as the SDK's `CompletionUsage`: Moonshot's Kimi
    sends its stream's usage there, on the finish chunk, and at the top level only on a trailing chunk it may leave out.
    Without it, a priced model's streamed answer was counted at its worst case (`NoStreamedUsage`), and the server's
    next calls were made unstreamed."""
    from openai.types import CompletionUsage

    return CompletionUsage.construct(**usage)


def _delta_text(delta: object) -> str:
    """The text of a chunk's `delta` (its `content`: Magistral's a list of typed blocks; none: ""), or
    `MalformedResponse` for a delta that is not an object or content that is not text (`"delta": 5`, `"content": 5`:
    each was left out, and the answer, short of it or empty, judged as a whole one)."""
    if delta is None:
        return ""
    if not hasattr(delta, "content"):
        raise MalformedResponse(f"a chat completion chunk whose delta is not an object: {one_line(repr(delta))}")
    content = delta.content
    text = content_text(content)
    if text is None and content is not None:
        raise MalformedResponse(f"a chat completion chunk whose content is not text: {one_line(repr(content))}")
    return text or ""


def _finish(choice: object) -> str | None:
    """A chunk's `finish_reason`, None while the answer goes on; `MalformedResponse` for one that is not a string
    (`"finish_reason": 5` failed as "1 validation error for Generation")."""
    finish = getattr(choice, "finish_reason", None)
    if finish is None or finish == "":
        return None
    if not isinstance(finish, str):
        raise MalformedResponse(
            f"a chat completion chunk whose finish_reason is not a string: {one_line(repr(finish))}"
        )
    return finish


def _answer(
    text: str,
    finish: str,
    usage: Any,
    tier: object,
    request: GenerationRequest,
    written: str,
    answered_by: str | None,
) -> Generation:
    """The `Generation` of a whole streamed answer; `NoStreamedUsage` carrying it, without usage, for a priced model's
    that came without usage."""
    tokens = _usage(usage, request, written)
    generation = Generation(
        text=text,
        usage=tokens or Usage(),
        finish_reason=finish,
        model_name=request.model.name,
        cost=request.model.cost(tokens or Usage()),
        response_model=answered_by,
        reported_cost=None if usage is None or tokens is None else _reported_cost(usage, tokens, request, tier),
    )
    if tokens is None:
        raise NoStreamedUsage(
            "the chat completion stream carried no usage (the server ignored stream_options): the cost of a priced"
            " model is unknown; this server's next calls are answered unstreamed, with their usage",
            generation,
        )
    return generation


def _reported_cost(usage: Any, tokens: Usage, request: GenerationRequest, tier: object) -> float | None:
    """OpenRouter's `usage.cost`, in the last chunk; else what OpenAI bills when it is not the catalog price of the
    usage (prompt-cache writes, a service tier's prices: `billed_cost`)."""
    reported = reported_cost(usage)
    if reported is not None:
        return reported
    writes = cache_writes(getattr(usage, "prompt_tokens_details", None))
    return billed_cost(tokens, request.model, writes=writes, tier=tier)


def _answer_choices(choices: object) -> Sequence[Any]:
    """The choices of a chunk that are the answer's: one answer is asked for (no `n`), so a chunk's only choice is
    it whatever its `index` says (TGI 1.4 to 1.4.3 numbered its chunks 1, 2, 3…, as Foundry Local did; other
    servers leave the index out); of several, those of index 0. A chunk whose `choices` is not a list (a gateway's
    `"choices": 5`) is a `MalformedResponse` (it failed the run with a bare TypeError)."""
    if not isinstance(choices, list):
        raise MalformedResponse(f"a chat completion chunk whose choices are not a list: {one_line(repr(choices))}")
    if len(choices) == 1:
        return choices
    return [c for c in choices if getattr(c, "index", None) in (0, None)]


def _usage(usage: Any, request: GenerationRequest, written: str) -> Usage | None:
    """The stream's usage; without one (stream_options include_usage ignored), a free model's estimated, and None for
    a priced model's."""
    if usage is None:
        try:
            return estimated_usage(request, written)
        except MalformedResponse:
            return None
    return chat_usage(usage)


async def generation_from_response_stream(
    events: AsyncIterable[Any], request: GenerationRequest, on_text: TextSink
) -> Generation:
    """Hand each `response.output_text.delta` to `on_text`; the `Generation` from `response.completed`."""
    from ._mapping import generation_from_response, response_error

    final: Any = None
    async for event in events:
        kind = getattr(event, "type", None)
        if kind == "response.output_text.delta":
            delta = getattr(event, "delta", "")
            if isinstance(delta, str) and delta:
                await on_text(delta)
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            final = getattr(event, "response", None)
        elif kind == "error":
            code = getattr(event, "code", None)
            message = str(getattr(event, "message", event))
            raise response_error(code if isinstance(code, str) else None, message, streamed=True)
    if final is None:
        raise MalformedResponse("the response stream ended without its final response")
    return generation_from_response(final, request)
