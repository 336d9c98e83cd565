"""The simulated quality of answers: hidden per-(model, domain) skill, refinement and judging."""

from __future__ import annotations

import re
from typing import Final

from ...catalog import ModelProfile
from ._random import Draws, digest

__all__ = [
    "FOOTER_RE",
    "answer_under_evaluation",
    "footer",
    "hidden_offset",
    "judge_bias",
    "pseudo_quality",
    "specialty_bonus",
]

SPECIALTY_BONUS: Final = 0.5
OTHER_DOMAIN_MALUS: Final = -0.3
HIDDEN_SIGMA: Final = 0.6
MAX_JUDGE_BIAS: Final = 0.3

FOOTER_RE: Final = re.compile(
    r"\[simulated by OrchestrateX · (?P<model>[^\s·\]]+) · quality (?P<quality>\d+(?:\.\d+)?)/10\]"
)
"""The footer every simulated answer ends with; its quality tells a later call what it is refining or judging."""

_TAGGED_ANSWER: Final = re.compile(r"<(answer|response)>\s*(.*?)\s*</\1>", re.DOTALL | re.IGNORECASE)
_ANSWER_HEADING: Final = re.compile(r"^(?:answer|response)\s*:[ \t]*\n", re.MULTILINE | re.IGNORECASE)


def footer(model_name: str, quality: float) -> str:
    """The plain footer line that ends each simulated answer."""
    return f"[simulated by OrchestrateX · {model_name} · quality {quality:.1f}/10]"


def specialty_bonus(model: ModelProfile, domain: str) -> float:
    """+0.5 in the model's specialties, -0.3 elsewhere."""
    return SPECIALTY_BONUS if domain in model.specialties else OTHER_DOMAIN_MALUS


def hidden_offset(seed: int, model_name: str, domain: str) -> float:
    """The seeded N(0, 0.6) part of a model's hidden quality in a domain (what the catalog prior does not know)."""
    return Draws(digest(seed, "hidden", model_name, domain)).normal(0.0, HIDDEN_SIGMA)


def judge_bias(seed: int, model_name: str) -> float:
    """How much a judge model over- or under-scores, uniformly within ±0.3."""
    return Draws(digest(seed, "judge-bias", model_name)).uniform(-MAX_JUDGE_BIAS, MAX_JUDGE_BIAS)


def pseudo_quality(answer: str) -> float:
    """A stable quality in [4, 9] for an answer that carries no simulator footer (e.g. a FunctionProvider's)."""
    return Draws(digest("pseudo-quality", answer)).uniform(4.0, 9.0)


def answer_under_evaluation(contents: list[str]) -> str:
    """The answer a judge prompt asks about.

    The text in the last `<answer>`/`<response>` tags, else after the last `ANSWER:` heading line,
    else the whole last message.
    """
    for content in reversed(contents):
        tagged = _TAGGED_ANSWER.findall(content)
        if tagged:
            return str(tagged[-1][1])
        headings = list(_ANSWER_HEADING.finditer(content))
        if headings:
            return content[headings[-1].end() :].strip()
    return contents[-1] if contents else ""
