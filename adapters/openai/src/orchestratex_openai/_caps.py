"""The output caps an API refuses: the least `max_output_tokens` OpenAI's Responses API takes, and the least a 400
refusing a smaller cap names (OpenAI's own, or passed on by a gateway)."""

from __future__ import annotations

import re

import openai

__all__ = ["RESPONSES_MIN_OUTPUT_TOKENS", "least_cap"]

RESPONSES_MIN_OUTPUT_TOKENS = 16
"""The smallest `max_output_tokens` the Responses API takes (a smaller one is a 400 `integer_below_min_value`)."""

_BELOW_LEAST = re.compile(r"integer below minimum value\. Expected a value >= ?(\d+)")
"""OpenAI's words for an integer parameter below its minimum (`integer_below_min_value`), and that minimum."""
_CAP_PARAMS = ("max_output_tokens", "max_completion_tokens", "max_tokens")


def least_cap(exc: openai.APIStatusError) -> int | None:
    """The least output cap a 400 refusing a smaller one names (OpenAI's, or passed on by a gateway in its own
    error: OpenRouter's `metadata.raw`), else None."""
    if exc.status_code != 400:
        return None
    said = f"{exc.body} {exc.message}"
    found = _BELOW_LEAST.search(said)
    if found is None or not any(param in said for param in _CAP_PARAMS):
        return None
    return int(found[1])
