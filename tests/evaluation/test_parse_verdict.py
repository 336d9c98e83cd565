"""Tolerant parsing of judge verdicts: every form of a score is read on the 0–10 scale, or refused."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
        ('{"score": 8, "feedback": null}', 8.0, ""),
        ('{"score": null, "rating": 7}', 7.0, ""),
        ('{"score": 1e1}', 10.0, ""),
        # the rubric's object written as JSON does not take it: its feedback is the string's text, not the rest of
        # the object (it was '"ok",}', the closing fence, a second object...)
        ('{"score": 8, "feedback": "Add tests.",}', 8.0, "Add tests."),
        ("{'score': 8, 'feedback': 'Add tests.'}", 8.0, "Add tests."),
        ('```json\n{"score": 6,\n "feedback": "Two issues:\n1. no tests"}\n```', 6.0, "Two issues:\n1. no tests"),
        ('{"score": 08, "feedback": "He said \\"ok\\"."}', 8.0, 'He said "ok".'),
        ('{"evaluation": {"score": 7, "feedback": "Nested."}}', 7.0, "Nested."),
        ('{"feedback": "Handle None.", "score": 5,}', 5.0, "Handle None."),
        ('Score: 7\nFeedback: "Clear" but it misses the edge cases.', 7.0, '"Clear" but it misses the edge cases.'),
        ('Score: 8\nFeedback: "Correct", though thin.', 8.0, '"Correct", though thin.'),  # prose, kept whole
        # feedback given as a list of points, or per criterion: one per line, not Python's "['Add tests.', ...]"
        ('{"score": 6, "feedback": ["Add tests.", "Handle None.", ""]}', 6.0, "- Add tests.\n- Handle None."),
        (
            '{"score": 6, "feedback": {"correctness": "fine", "style": "too long"}}',
            6.0,
            "correctness: fine\nstyle: too long",
        ),
        ('{"score": 6, "comments": [["a", "b"], "c"]}', 6.0, "- a\n- b\n- c"),
        ('{"score": 6, "feedback": true}', 6.0, "true"),
        # feedback under the other names judges give it was dropped: `{"score": 8, "comment": "x"}` gave (8.0, "")
        ('{"score": 8, "comment": "Name the edge case."}', 8.0, "Name the edge case."),
        ('{"Score": 7, "Reason": "Misses None."}', 7.0, "Misses None."),
        ('{"reasoning": "Correct but terse.", "score": 8}', 8.0, "Correct but terse."),
        ('{"score": 5, "explanation": ["Wrong unit.", "No example."]}', 5.0, "- Wrong unit.\n- No example."),
        ('```json\n{"rating": 9, "rationale": "Complete."}\n```', 9.0, "Complete."),
        ('{"score": 6, "reasoning": "Long reasoning.", "feedback": "Add tests."}', 6.0, "Add tests."),  # the rubric's
        ('{"score": 6, "comment": "", "reason": "Too long."}', 6.0, "Too long."),
        ('{"score": 8, "reasoning": "Add tests.",}', 8.0, "Add tests."),  # not JSON: its text, not the object's
        ("{'score': 8, 'reason': 'Add tests.'}", 8.0, "Add tests."),
        ("**Score:** 7\n**Rationale:** a 9/10 needs tests", 7.0, "a 9/10 needs tests"),  # (no second score)
    ],
)
def test_accepts_what_judges_write(text: str, score: float, feedback: str) -> None:
    assert parse_verdict(text) == (score, feedback)


@pytest.mark.parametrize(
    ("value", "score"),
    [
        ('"8"', 8.0),
        ('" 9 "', 9.0),
        ('"8.5"', 8.5),
        ('"8,5"', 8.5),  # a decimal comma: never 8
        ('"8/10"', 8.0),
        ('"8.5/10"', 8.5),
        ('"8 out of 10"', 8.0),
        ('"4/5"', 8.0),  # its own scale, converted: never 4
        ('"3/4"', 7.5),
        ('"4 out of 5"', 8.0),
        ('"80/100"', 8.0),
        ('"8/100"', 0.8),
        ('"80%"', 8.0),
        ('"85 %"', 8.5),
        ('"7,5/10"', 7.5),
        ('"9/10 - nearly perfect"', 9.0),
    ],
)
def test_a_score_is_read_on_the_scale_it_says(value: str, score: float) -> None:
    assert parse_verdict(f'{{"score": {value}, "feedback": "f"}}') == (score, "f")


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("Score: 4/5", 8.0),
        ("Score: 8,5\nFeedback: x", 8.5),
        ("Rating = 3 out of 4", 7.5),
        ("Score: 85%", 8.5),
        ("Score: 8, a good answer", 8.0),  # a comma then a space ends the number
        ("Score: 7 (it was 4/10 before)", 7.0),  # the score word decides
        ("I give it 8/10, yes: 8 out of 10", 8.0),  # the same score twice
    ],
)
def test_prose_scores_are_read_on_the_scale_they_say(text: str, score: float) -> None:
    assert parse_verdict(text)[0] == score


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("I cannot evaluate this.", "no score found"),
        ("", "no score found"),
        ('{"score": 42, "feedback": "x"}', "outside 0–10"),
        ('{"score": -3}', "outside 0–10"),
        ('{"score": "-3"}', "outside 0–10"),
        ("Score: -3", "outside 0–10"),
        ("-3/10", "outside 0–10"),
        ('{"score": "18/10"}', "outside 0–10"),
        ('{"score": "6/5"}', "outside 0–10"),
        ('{"score": "120%"}', "outside 0–10"),
        ('{"score": NaN}', "outside 0–10"),
        ('{"score": Infinity}', "outside 0–10"),
        ('{"score": -Infinity}', "outside 0–10"),
        ('{"score": 1' + "0" * 400 + "}", "outside 0–10"),  # an int no float holds
        ('{"score": "4/0"}', "not a scale"),
        ('{"score": "1,000"}', "ambiguous"),  # a thousand, or one?
        ('{"score": true}', "not a number"),
        ('{"score": false, "feedback": "8/10 would be fair"}', "not a number"),  # no other score is looked for
        ('{"score": [8]}', "not a number"),
        ('{"score": {"value": 8}}', "not a number"),
        ('{"score": "eight"}', "not a number"),
        ('{"score": "1e1"}', "not a number"),
        ('{"score": "4 out of 5 stars"}', "not a number"),
        ("I rate it 4 out of 5", "no score found"),  # in prose, another scale may count something else
        ("3 of the 4 tests pass: 2/10 of it is wrong, so 8/10", "several scores"),
        ("v1.8/10 is out", "no score found"),
        # a feedback under another name is a feedback, never a verdict or a score
        ('{"reasoning": "It is correct."}', "no score found"),
        ('{"score": 42, "comment": "x"}', "outside 0–10"),
        ('{"score": "eight", "rationale": "8/10 would be fair"}', "not a number"),
    ],
)
def test_refuses_what_is_not_a_verdict(text: str, message: str) -> None:
    with pytest.raises(EvaluationError, match=message):
        parse_verdict(text)


_TENTHS = st.integers(0, 100).map(lambda n: n / 10)


@given(_TENTHS)
def test_every_form_of_a_score_out_of_ten_reads_the_same(score: float) -> None:
    comma = f"{score}".replace(".", ",")
    forms = [
        json.dumps({"score": score}),
        json.dumps({"score": str(score)}),
        json.dumps({"score": comma}),
        json.dumps({"score": f"{score}/10"}),
        json.dumps({"score": f"{score} out of 10"}),
        json.dumps({"score": f"{score * 10:g}%"}),
        json.dumps({"score": f"{score / 2:g}/5"}),
        f"Score: {score}",
        f"Score: {comma}",
        f"The answer deserves {score}/10.",
    ]
    for form in forms:
        assert parse_verdict(form)[0] == pytest.approx(score), form


@given(st.integers(0, 1000), st.integers(1, 1000))
def test_a_score_on_its_own_scale_is_rescaled_or_refused(numerator: int, denominator: int) -> None:
    text = json.dumps({"score": f"{numerator}/{denominator}"})
    if numerator <= denominator:
        assert parse_verdict(text)[0] == pytest.approx(10 * numerator / denominator)
    else:
        with pytest.raises(EvaluationError, match="outside 0–10"):
            parse_verdict(text)


@given(st.one_of(st.floats(), st.integers(), st.booleans(), st.none(), st.text(max_size=12)))
def test_a_verdict_is_a_score_from_0_to_10_or_an_evaluation_error(value: object) -> None:
    try:
        score, _ = parse_verdict(json.dumps({"score": value}))
    except EvaluationError:
        return
    assert 0 <= score <= 10 and math.isfinite(score)
    if isinstance(value, int | float) and not isinstance(value, bool):
        assert score == value  # a number is never rescaled
