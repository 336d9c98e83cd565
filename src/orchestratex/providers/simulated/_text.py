"""The text of simulated answers and verdicts: obviously synthetic, readable, flavoured by domain."""

from __future__ import annotations

import keyword
import re
from typing import Final

from ._quality import FOOTER_RE
from ._random import Draws

__all__ = ["answer_text", "function_name", "judge_feedback", "task_summary"]

_WORD: Final = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_TASK_LINE: Final = re.compile(r"^\s*(?:original\s+)?(?:task|prompt|question|request)\s*:\s*(\S.*)$", re.I | re.M)
_STOPWORDS: Final = frozenset(
    """a an the and or of to in on for with by from into about as at is are be it its this that these those
    write create make build implement code program script python function functions method class please can
    could would you your me my i we our how what which who why when where do does give show using use
    return returns given simple small short quick basic some any all each every one two new should will
    def lambda let need want like explain tell describe also then than so just very""".split()
)
_MAX_TASK_CHARS: Final = 90


def task_summary(text: str) -> str:
    """The task a prompt asks about, in one short line (a `Task:` line wins; footers and code are skipped)."""
    text = FOOTER_RE.sub("", text)
    match = _TASK_LINE.search(text)
    if match:
        line = match.group(1).strip()
    else:
        line = ""
        in_code = False
        for raw in text.splitlines():
            stripped = raw.strip()
            if stripped.startswith("```"):
                in_code = not in_code
                continue
            if stripped and not in_code:
                line = stripped
                break
    line = " ".join(line.split()).strip("#*> ")
    if len(line) > _MAX_TASK_CHARS:
        line = line[: _MAX_TASK_CHARS - 1].rstrip() + "…"
    return line or "the task"


def function_name(task: str) -> str:
    """A snake_case Python identifier from the task's first meaningful words (`solve` when there are none)."""
    words: list[str] = []
    for match in _WORD.finditer(task):
        word = match.group().lower()
        if word not in _STOPWORDS:
            words.append(word)
            if len(words) == 3:
                break
    name = "_".join(words) or "solve"
    if keyword.iskeyword(name):
        name += "_"
    return name


def _topic(task: str) -> str:
    return task.rstrip(".?!…") or "the task"


_CODING_CLOSERS: Final = (
    "A real model would fill in the logic; this sketch only shows the shape of an answer.",
    "Edge cases (empty input, very large input) would be covered by a real answer.",
    "The body is a placeholder that keeps the input order; swap in the real algorithm.",
)
_WRITING_OPENERS: Final = (
    "Here is a short simulated draft for “{topic}”.",
    "A simulated first draft, written for “{topic}”.",
    "Picture the reader who asked for “{topic}”, and begin where their question begins.",
)
_WRITING_BODIES: Final = (
    "The middle would develop one vivid idea, then a second that complicates it, in plain and concrete words.",
    "A real model would choose the tone, the rhythm and the details here; this draft only sketches the arc.",
    "Short sentences carry the point; one longer sentence gives it room to breathe before the close.",
)
_WRITING_CLOSERS: Final = (
    "It would end on an image that echoes the opening.",
    "The last line would leave the reader a little further along than the first.",
    "A closing sentence would tie the draft back to its opening promise.",
)
_STRUCTURED_INTROS: Final = (
    "On “{topic}”:",
    "A simulated outline for “{topic}”:",
    "How a real answer to “{topic}” would be structured:",
)
_STRUCTURED: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "math": (
        ("Restate", "the problem in symbols"),
        ("Set up", "the relations the problem gives"),
        ("Solve", "step by step (simulated: no real derivation here)"),
        ("Check", "by substituting the result back"),
    ),
    "science": (
        ("Core idea", "the principle at work"),
        ("Mechanism", "how it happens, step by step (simulated)"),
        ("Evidence", "the observations a real answer would cite"),
        ("Caveats", "where the simple picture breaks down"),
    ),
    "analysis": (
        ("Context", "what the decision is really about"),
        ("Key factors", "the two or three that matter most"),
        ("Trade-offs", "what each option gains and gives up"),
        ("Recommendation", "a simulated one, to be replaced by a real model's"),
    ),
    "general": (
        ("In short", "a direct answer would go here"),
        ("Details", "supporting points and one concrete example (simulated)"),
        ("Next steps", "caveats and what to do next"),
    ),
}


def answer_text(
    *,
    domain: str,
    task: str,
    model_name: str,
    draws: Draws,
    previous: float | None,
    judged: float | None = None,
) -> str:
    """The body of a simulated answer (without footer): a header saying it is simulated, then domain flavour.

    A refinement (`previous`, the hidden quality of the answer it refines, is set) quotes `judged`, the score the
    judges gave that answer as the refinement prompt states it, when the prompt states one: the hidden quality is
    the simulator's own and differs from what the run showed."""
    kind = "refined answer" if previous is not None else "answer"
    header = f"**Simulated {kind}** from {model_name} ({domain}): no real model was called."
    if previous is not None:
        rated = f" the judges scored {judged:.1f}/10" if judged is not None else ""
        header += f" It improves on a previous answer{rated} and applies the reviewers' feedback."
    topic = _topic(task)
    if domain == "coding":
        name = function_name(task)
        closer = _CODING_CLOSERS[draws.index(len(_CODING_CLOSERS))]
        body = (
            f"Here is a sketch for “{topic}”:\n\n"
            "```python\n"
            f"def {name}(data):\n"
            f'    """Simulated solution: {topic.replace(chr(34), chr(39))}."""\n'
            "    result = []\n"
            "    for item in data:\n"
            "        result.append(item)\n"
            "    return result\n"
            "```\n\n"
            f"{closer}"
        )
    elif domain == "writing":
        opener = _WRITING_OPENERS[draws.index(len(_WRITING_OPENERS))].format(topic=topic)
        middle = _WRITING_BODIES[draws.index(len(_WRITING_BODIES))]
        closer = _WRITING_CLOSERS[draws.index(len(_WRITING_CLOSERS))]
        body = f"{opener} {middle} {closer}"
    else:
        intro = _STRUCTURED_INTROS[draws.index(len(_STRUCTURED_INTROS))].format(topic=topic)
        steps = _STRUCTURED.get(domain, _STRUCTURED["general"])
        body = intro + "\n\n" + "\n".join(f"{i}. **{head}**: {text}." for i, (head, text) in enumerate(steps, 1))
    return f"{header}\n\n{body}"


_FEEDBACK: Final[dict[str, tuple[str, ...]]] = {
    "coding": (
        "Handle the empty-input and None cases explicitly and add a unit test for each.",
        "Add type hints and a docstring example, and replace the placeholder loop with the real algorithm.",
        "State the time complexity and avoid the quadratic copy inside the loop.",
        "Raise a clear ValueError on invalid input instead of failing later with a TypeError.",
    ),
    "math": (
        "Justify the step from the second equation to the third; it skips an assumption.",
        "Check the result by substituting it back and state the domain where it holds.",
        "Show the intermediate algebra instead of jumping to the final value.",
        "Give the exact value before the decimal approximation and mention the units.",
    ),
    "science": (
        "Name the mechanism explicitly and cite one experiment that supports it.",
        "Separate the established findings from the open questions and quantify at least one effect.",
        "Define the key terms for a non-specialist and correct the oversimplified causal claim.",
        "Add the relevant orders of magnitude and one common misconception to avoid.",
    ),
    "writing": (
        "Tighten the opening sentence and cut the generic filler in the middle paragraph.",
        "Use one concrete image instead of abstract adjectives, and vary the sentence length.",
        "Make the tone consistent with the audience and end on a stronger closing line.",
        "Replace the cliché in the first line and keep the draft within the requested length.",
    ),
    "analysis": (
        "Quantify the main trade-off and state the assumptions behind the recommendation.",
        "Compare at least two alternatives side by side and name the decisive criterion.",
        "Add the risks of the recommended option and what evidence would change the conclusion.",
        "Support the key claim with a number or a source instead of a general statement.",
    ),
    "general": (
        "Answer the question directly in the first sentence, then give the supporting details.",
        "Add one concrete example and remove the repeated point in the second paragraph.",
        "Structure the answer as short steps and say what to do if the first option fails.",
        "Be more specific: name the exact option, setting or source you recommend.",
    ),
}


def judge_feedback(domain: str, score: float, draws: Draws) -> str:
    """One or two sentences of domain-specific advice, labelled as coming from a simulated judge."""
    options = _FEEDBACK.get(domain, _FEEDBACK["general"])
    advice = options[draws.index(len(options))]
    if score >= 9.0:
        return f"Simulated judge: strong answer; a last polish: {advice[0].lower()}{advice[1:]}"
    if score >= 7.0:
        return f"Simulated judge: solid, but {advice[0].lower()}{advice[1:]}"
    return f"Simulated judge: {advice}"
