"""Tolerant parsing of a judge's verdict: strict JSON first, then what a model usually writes instead.

Tolerant of the form, never of the meaning: a score is read on the rubric's 0–10 scale, or converted to it
when it says its own scale (`"4/5"` is 8, `"80%"` is 8), or refused (`EvaluationError`). It is never read
on another scale than the one it says (`"4/5"` as 4), nor cut short (`"8,5"` as 8).
"""

from __future__ import annotations

import json
import re

from ..exceptions import EvaluationError

__all__ = ["parse_verdict"]

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_NUMBER = r"[-+]?\d+(?:[.,]\d+)?"
_EXPRESSION = rf"{_NUMBER}(?:\s*%|\s*(?:/|out\s+of)\s*{_NUMBER})?"
"""A score as written: `8`, `8.5`, `8,5`, `85%`, `8/10`, `4 out of 5`."""
_SCORE = re.compile(rf"\s*(?P<n>{_NUMBER})\s*(?:(?P<pct>%)|(?:/|out\s+of)\s*(?P<d>{_NUMBER}))?\s*", re.IGNORECASE)
_MARKUP = r"[\"'*_]*"
"""Quotes, or Markdown emphasis around a label or a value: `**Score:** 8`, `**Score**: 8`, `Score: **8**`."""
_SCORE_WORD = re.compile(rf"(?:score|rating|grade)\s*{_MARKUP}\s*[:=]\s*{_MARKUP}\s*({_EXPRESSION})", re.IGNORECASE)
_OUT_OF_TEN = re.compile(rf"(?<![\w.,+-])({_NUMBER}\s*(?:/|out\s+of)\s*10)(?![\d%]|[.,]\d)", re.IGNORECASE)
"""A score out of 10 anywhere in prose (another scale there may count something else: "3 out of 4 tests")."""
_FEEDBACK_WORD = re.compile(
    rf"(?:feedback|comments?|critique|\b(?:explanation|rationale|reason(?:ing)?))"
    rf"\s*{_MARKUP}\s*[:=]\s*(?:\*+|_+)?\s*(.+)",
    re.IGNORECASE | re.DOTALL,
)
_QUOTED = re.compile(r"""(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*(?:,\s*)?(?:\}|["']\w+["']\s*:|$)""")
"""A feedback written as a JSON string: followed by what follows a value in an object (its end, the next key) or by
the text's end (prose that begins with a quoted word, `"Correct", though …`, is prose)."""
_KEYS = ("score", "rating", "grade", "overall")
_FEEDBACK_KEYS = ("feedback", "critique", "comments", "comment", "explanation", "rationale", "reason", "reasoning")
"""The names judges give their feedback, the rubric's first: the first of them with a value is the feedback."""
_RUBRIC_KEYS = frozenset({"score", "feedback"})
"""The keys of the object the rubric asks for: already lower-case."""
_DECODE = json.JSONDecoder().raw_decode
"""`json.loads` for a candidate running from a `{` to a `}`, without its wrappers: there is no BOM or whitespace to
skip, and the object must end where the candidate does (what follows it could not be whitespace alone)."""


def _number(text: str) -> float:
    """`text` (`_NUMBER`) as a number; a decimal comma reads as a point ("8,5" is 8.5)."""
    whole, comma, fraction = text.partition(",")
    if comma and len(fraction) == 3:  # "1,000": a thousand or one? Neither is read
        raise EvaluationError(f"judge score {text!r} is ambiguous (a decimal comma or a thousands separator?)")
    return float(f"{whole}.{fraction}" if comma else text)


def _scaled(text: str) -> float:
    """The score written `text` (a whole `_SCORE`) on the 0–10 scale, or `EvaluationError`."""
    match = _SCORE.fullmatch(text)
    if match is None:
        raise EvaluationError(f"judge score {text!r} is not a number from 0 to 10")
    value = _number(match["n"])
    if match["pct"]:
        scale = 100.0
    elif match["d"]:
        scale = _number(match["d"])
        if scale <= 0:
            raise EvaluationError(f"judge score {text.strip()!r} is out of {match['d']}, not a scale")
    else:
        scale = 10.0
    if not 0 <= value <= scale:
        raise EvaluationError(f"judge score {text.strip()!r} is outside 0–10")
    return value if scale == 10 else value * 10 / scale


def _score(value: object) -> float:
    """A JSON score value on the 0–10 scale, or `EvaluationError`. A string is a score as written (`"4/5"`), else
    read as prose (`"9/10, nearly perfect"`)."""
    if isinstance(value, str):
        score = _scaled(value) if _SCORE.fullmatch(value) else _from_prose(value)
        if score is None:
            raise EvaluationError(f"judge score {value[:40]!r} is not a number from 0 to 10")
        return score
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EvaluationError(f"judge score {json.dumps(value)[:40]} is not a number from 0 to 10")
    if not 0 <= value <= 10:  # NaN and infinities too; an int too large for a float is compared exactly
        raise EvaluationError(f"judge score {str(value)[:40]} is outside 0–10")
    return float(value)


def _from_json(text: str) -> tuple[float, str] | None:
    if "`" not in text:  # no code fence: the one candidate is the text (the answer the rubric asks for, usually)
        if text[:1] == "{" and text[-1:] == "}":  # the object and nothing else: `_OBJECT` would match it all
            return _from_object(text)
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
    """`(score, feedback)` from `candidate`, the text of a JSON object, when it has a score (None when it has
    none); `EvaluationError` when its score is not one (the rest of the answer is not searched for another)."""
    try:
        data, end = _DECODE(candidate)
    except ValueError:
        return None
    if end != len(candidate) or not isinstance(data, dict):
        return None
    lowered = data if data.keys() == _RUBRIC_KEYS else {str(k).lower(): v for k, v in data.items()}
    for key in _KEYS:
        value = lowered.get(key)
        if value is not None:
            feedback = next((said for name in _FEEDBACK_KEYS if (said := lowered.get(name))), "")
            return _score(value), _text(feedback)
    return None


def _text(feedback: object) -> str:
    """A JSON feedback value as text: a string as it is, a list of points one per line (`- Add tests.`), an object's
    fields one per line (`style: too long`), another value as JSON writes it (not Python's `['Add tests.']`)."""
    if isinstance(feedback, str):
        return feedback.strip()
    if isinstance(feedback, list):
        return "\n".join(f"- {point}" for item in _flat(feedback) if (point := _text(item)))
    if isinstance(feedback, dict):
        return "\n".join(f"{key}: {said}" for key, item in feedback.items() if (said := _text(item)))
    return json.dumps(feedback)


def _flat(items: list[object]) -> list[object]:
    """The items of a list of points, those of the lists in it in their place."""
    return [point for item in items for point in (_flat(item) if isinstance(item, list) else (item,))]


def _from_prose(text: str) -> float | None:
    """The score in plain text: after a score word (`Score: 7.5`, `**Rating:** 4/5`; those before the feedback),
    else the one score out of 10 it gives (`8 out of 10`); None when there is none, `EvaluationError` when there
    are several that disagree (`Initial score: 4. Final score: 8.`)."""
    feedback = _FEEDBACK_WORD.search(text)
    verdict = text[: feedback.start()] if feedback is not None else text  # ("a score: 9 needs tests" is feedback)
    found = {_scaled(m.group(1)): m.group(1) for m in _SCORE_WORD.finditer(verdict)}
    if not found and feedback is not None:  # the feedback first: `Feedback: … Score: 8`
        found = {_scaled(m.group(1)): m.group(1) for m in _SCORE_WORD.finditer(text)}
    if not found:
        found = {_scaled(m.group(1)): m.group(1) for m in _OUT_OF_TEN.finditer(text)}
    if len(found) > 1:
        raise EvaluationError(f"the judge's answer gives several scores ({', '.join(found.values())})")
    return next(iter(found), None)


def parse_verdict(text: str) -> tuple[float, str]:
    """Return `(score, feedback)` from a judge's answer, the score on the 0–10 scale.

    Accepts the JSON object the rubric asks for, the same inside a code fence or surrounded by prose, or
    plain text such as `Score: 7.5` / `8 out of 10`. A score may be a number or a string: `"8"`, `"8.5"`,
    `"8,5"` (a decimal comma), `"8/10"`, `"8 out of 10"`, or on a scale it names — `"4/5"` and `"80%"` are
    8 (in prose, away from a score word, only a score out of 10 counts). Raises `EvaluationError` when no
    score is found, when it lies outside 0–10 (negative, above its scale, NaN, infinite), when it is not a
    number (`true`, `"eight"`), or when prose gives several scores that disagree.
    """
    parsed = _from_json(text)
    if parsed is not None:
        return parsed
    score = _from_prose(text)
    if score is None:
        snippet = text.strip().replace("\n", " ")[:120]
        raise EvaluationError(f"no score found in the judge's answer: {snippet!r}")
    fb = _FEEDBACK_WORD.search(text)
    return score, (_feedback(fb.group(1)) if fb else text.strip())


def _feedback(written: str) -> str:
    """The feedback after a feedback word: as written, or the text of the JSON string it is when the object the
    rubric asks for did not parse (a trailing comma, single quotes, a line break inside its text, a second object
    after it): without its quotes and escapes, and without the braces, fence or object that followed it."""
    written = written.strip()
    quoted = _QUOTED.match(written)
    if quoted is None:
        return written
    if quoted.group(1) is None:  # 'single quotes', as Python writes a dict
        return quoted.group(2).strip()
    try:
        return str(json.loads(f'"{quoted.group(1)}"', strict=False)).strip()  # (strict=False: a raw line break)
    except ValueError:  # an escape JSON does not know ("\q"): the text as written
        return quoted.group(1).strip()
