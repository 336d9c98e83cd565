"""Tolerant parsing of a judge's verdict: strict JSON first, then what a model usually writes instead."""

from __future__ import annotations

import json
import re

from ..exceptions import EvaluationError

__all__ = ["parse_verdict"]

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_SCORE_WORD = re.compile(r"(?:score|rating|grade)\s*[\"']?\s*[:=]\s*[\"']?\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
_OUT_OF_TEN = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:/|out of)\s*10\b", re.IGNORECASE)
_FEEDBACK_WORD = re.compile(r"(?:feedback|comments?|critique)\s*[\"']?\s*[:=]\s*(.+)", re.IGNORECASE | re.DOTALL)


def _score(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _OUT_OF_TEN.search(value) or re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*", value)
        return float(match.group(1)) if match else None
    return None


def _from_json(text: str) -> tuple[float, str] | None:
    if "`" not in text:  # no code fence: the one candidate is the text (the answer the rubric asks for, usually)
        obj_match = _OBJECT.search(text)
        return _from_object(obj_match.group(0)) if obj_match else None
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        obj_match = _OBJECT.search(candidate)
        if not obj_match:
            continue
        parsed = _from_object(obj_match.group(0))
        if parsed is not None:
            return parsed
    return None


def _from_object(candidate: str) -> tuple[float, str] | None:
    """`(score, feedback)` from `candidate`, the text of a JSON object, when it holds a score."""
    try:
        data = json.loads(candidate)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    lowered = {str(k).lower(): v for k, v in data.items()}
    for key in ("score", "rating", "grade", "overall"):
        score = _score(lowered.get(key))
        if score is not None:
            feedback = lowered.get("feedback") or lowered.get("critique") or lowered.get("comments") or ""
            return score, str(feedback).strip()
    return None


def parse_verdict(text: str) -> tuple[float, str]:
    """Return `(score, feedback)` from a judge's answer.

    Accepts the JSON object the rubric asks for, the same inside a code fence or surrounded by
    prose, `"score": "8/10"`, or plain text such as `Score: 7.5` / `8 out of 10`. Raises
    `EvaluationError` when no score can be found or it lies outside 0–10.
    """
    parsed = _from_json(text)
    if parsed is None:
        match = _SCORE_WORD.search(text) or _OUT_OF_TEN.search(text)
        if match is None:
            snippet = text.strip().replace("\n", " ")[:120]
            raise EvaluationError(f"no score found in the judge's answer: {snippet!r}")
        fb = _FEEDBACK_WORD.search(text)
        parsed = float(match.group(1)), (fb.group(1).strip() if fb else text.strip())
    score, feedback = parsed
    if not 0 <= score <= 10:
        raise EvaluationError(f"judge score {score} is outside 0–10")
    return score, feedback
