"""Why no model can take a run's request: its prompt is longer than every model's context window."""

from __future__ import annotations

from collections.abc import Sequence

from ..catalog import ModelProfile

__all__ = ["too_long"]


def too_long(models: Sequence[ModelProfile], input_bytes: int, max_output_tokens: int) -> str | None:
    """What to say when the request (at most `input_bytes` bytes of messages, read as about a quarter as many
    tokens, as the candidates are chosen) and its answer (up to `max_output_tokens`) fit none of `models`' context
    windows; None when one of them could take it (the run is out of models for another reason)."""
    if not models:
        return None
    tokens = input_bytes // 4
    if any(tokens + min(max_output_tokens, m.max_output_tokens) <= m.context_window for m in models):
        return None
    largest = max(models, key=lambda m: m.context_window)
    if len(models) == 1:  # (no "largest" of one, no "any model's" either)
        window = f"{largest.name}'s is {largest.context_window:,} tokens"
        every = any_model = "the model's"
    else:
        window = f"the largest, {largest.name}'s, is {largest.context_window:,} tokens"
        every, any_model = "every model's", "any model's"
    if tokens < largest.context_window:  # the prompt fits, the answer it asks for does not
        answer = min(max_output_tokens, largest.max_output_tokens)
        return (
            f"the prompt (about {tokens:,} tokens) leaves no room for an answer of up to {answer:,} tokens in "
            f"{any_model} context window ({window}): shorten the prompt, or lower max_output_tokens"
        )
    return (
        f"the prompt is too long for {every} context window: about {tokens:,} tokens, and {window}; "
        "shorten the prompt (or its context), or use a model with a larger window"
    )
