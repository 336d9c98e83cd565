"""Tolerant parsing of judge verdicts."""

from __future__ import annotations

import pytest

from orchestratex.evaluation import parse_verdict
from orchestratex.exceptions import EvaluationError


@pytest.mark.parametrize(
    ("text", "score", "feedback"),
    [
        ('{"score": 8.5, "feedback": "Add tests."}', 8.5, "Add tests."),
        ('```json\n{"score": 7, "feedback": "ok"}\n```', 7.0, "ok"),
        ('Here is my verdict: {"Score": "9/10", "Feedback": "great"} Thanks!', 9.0, "great"),
        ('{"rating": 6, "critique": "too long"}', 6.0, "too long"),
        ("Score: 7.5\nFeedback: handle empty input", 7.5, "handle empty input"),
        ("I would give it 8 out of 10.", 8.0, "I would give it 8 out of 10."),
        ('{"score": 0, "feedback": ""}', 0.0, ""),
    ],
)
def test_accepts_what_judges_write(text: str, score: float, feedback: str) -> None:
    assert parse_verdict(text) == (score, feedback)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("I cannot evaluate this.", "no score found"),
        ('{"score": 42, "feedback": "x"}', "outside 0–10"),
        ('{"score": true}', "no score found"),
        ("", "no score found"),
    ],
)
def test_refuses_what_is_not_a_verdict(text: str, message: str) -> None:
    with pytest.raises(EvaluationError, match=message):
        parse_verdict(text)
