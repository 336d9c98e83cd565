"""Helpers every HTTP provider adapter needs: reading a retry delay, unwrapping a judge's JSON."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping

__all__ = ["retry_after_seconds", "shown_url", "unwrap_json_object"]

_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)
_THINKING = re.compile(r"\A\s*<think>.*?</think>", re.DOTALL)
"""A reasoning model's thinking at the start of its answer (DeepSeek-R1, Qwen3 served without a reasoning parser)."""


_USER_PASSWORD = re.compile(r"(?P<head>(?:^|://)[^:@/?#\s]*:)[^/?#\s]*@")
_SECRET_PARAM = re.compile(r"(?P<head>[?&][^=&#]*(?:key|token|secret|sig|password|auth)[^=&#]*=)[^&#]*", re.IGNORECASE)


def shown_url(url: str) -> str:
    """`url` as a message or a log line may show it: the password of its user info (`https://user:***@proxy/v1`) and
    the values of query parameters naming a key, token, secret, signature or password (`?api-key=***`) hidden."""
    return _SECRET_PARAM.sub(r"\g<head>***", _USER_PASSWORD.sub(r"\g<head>***@", url, count=1))


def _number(value: str) -> float | None:
    """A finite number of `value`, or None (`nan`, `inf` and `1e400` are no wait a server can mean)."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from `retry-after-ms` (milliseconds) or `retry-after` (seconds or an HTTP date)."""
    ms = _number(headers.get("retry-after-ms") or "")
    if ms is not None:
        return max(ms / 1000, 0.0)
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _number(value)
    if seconds is not None:
        return max(seconds, 0.0)
    from email.utils import parsedate_to_datetime  # an HTTP date is rare: not worth 5 ms of every import

    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def unwrap_json_object(text: str) -> str:
    """The JSON object in `text` (bare, in a code fence, or amid prose); `text` itself when there is none.

    A leading `<think>…</think>` block (a reasoning model's thinking, left in its answer by a server without a
    reasoning parser) is skipped. A judge's answer without JSON is passed through untouched: the evaluator's
    tolerant parser still finds a score in prose like `8/10`.
    """
    stripped = _THINKING.sub("", text, count=1).strip()  # (its braces are no JSON of the verdict)
    candidates = [stripped]
    fenced = _FENCE.search(stripped)
    if fenced:
        candidates.append(fenced.group(1))
    start, end = stripped.find("{"), stripped.rfind("}")
    if 0 <= start < end:
        candidates.append(stripped[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return candidate
    return text
