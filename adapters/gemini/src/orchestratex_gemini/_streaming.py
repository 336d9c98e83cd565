"""Protocol mapping for streamed answers: `generate_content_stream` chunks → text pieces + `Generation`.

Each chunk is a `GenerateContentResponse` holding the next piece of text; the last ones carry the
finish reason and the usage metadata (cumulative), so the cost is exact. A stream that ends before
any chunk gives a finish reason was cut short: it is a `MalformedResponse`, not an answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterable

from google.genai import types

from orchestratex.exceptions import ContentFiltered, MalformedResponse
from orchestratex.providers import Generation, GenerationRequest, TextSink

from ._mapping import _FILTERED, _FINISH, _name, account_blocked, meta_usage, model_version

__all__ = ["generation_from_stream"]


async def generation_from_stream(
    chunks: AsyncIterable[types.GenerateContentResponse], request: GenerationRequest, on_text: TextSink
) -> Generation:
    """Hand each piece of answer text (thoughts excluded) to `on_text`; the `Generation` once the stream ends."""
    pieces: list[str] = []
    finish: str | None = None
    meta: types.GenerateContentResponseUsageMetadata | None = None
    answered_by: str | None = None
    async for chunk in chunks:
        answered_by = answered_by or model_version(chunk)
        feedback = chunk.prompt_feedback
        block = _name(feedback.block_reason) if feedback is not None else None
        if block:
            detail = feedback.block_reason_message if feedback is not None else None
            raise ContentFiltered(
                f"Gemini blocked the prompt: {block} {detail or ''}".strip(),
                status_code=200,
                usage=meta_usage(chunk.usage_metadata or meta),
            )
        if chunk.usage_metadata is not None:
            meta = chunk.usage_metadata
        candidate = chunk.candidates[0] if chunk.candidates else None
        if candidate is None:
            continue
        finish = _name(candidate.finish_reason) or finish
        for part in (candidate.content.parts if candidate.content is not None else None) or ():
            if part.text and not part.thought:
                pieces.append(part.text)
                await on_text(part.text)
    blocked = account_blocked(finish or "")
    if blocked is not None:
        raise blocked
    if finish in _FILTERED:
        raise ContentFiltered(f"Gemini withheld the answer: {finish}", status_code=200, usage=meta_usage(meta))
    if finish is None:  # every chunk carries usage so far: without the last one, a cut answer would pass as whole
        raise MalformedResponse("the response stream ended without a finish reason: the answer is incomplete")
    usage = meta_usage(meta)
    if usage is None:
        raise MalformedResponse("the response stream ended without usage metadata")
    return Generation(
        text="".join(pieces),
        usage=usage,
        finish_reason=_FINISH.get(finish, finish.lower() or None),
        model_name=request.model.name,
        cost=request.model.cost(usage),
        response_model=answered_by,
        reported_cost=None,  # (every field given: the orchestrator then shares its field set with others)
    )
