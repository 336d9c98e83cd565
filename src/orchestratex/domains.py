"""Task domains, and a lexical classifier that detects one from a prompt (no download, no model)."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["DOMAINS", "detect_domain"]

DOMAINS: Final = ("coding", "math", "science", "writing", "analysis", "general")
"""The domains that routing statistics and model specialties are kept for."""

_KEYWORDS: Final[dict[str, tuple[str, ...]]] = {
    "coding": (
        "python",
        "javascript",
        "typescript",
        "java",
        "rust",
        "golang",
        "c\\+\\+",
        "sql",
        "function",
        "code",
        "bug",
        "debug",
        "compile",
        "class",
        "api",
        "regex",
        "algorithm",
        "implement",
        "script",
        "def",
        "return",
        "variable",
        "unit test",
        "refactor",
        "stack trace",
        "exception",
        "library",
        "json",
        "html",
        "css",
        "docker",
        "git",
        "fibonacci",
        "recursion",
        "array",
        "linked list",
    ),
    "math": (
        "equation",
        "integral",
        "derivative",
        "prove",
        "proof",
        "theorem",
        "solve",
        "calculate",
        "probability",
        "matrix",
        "algebra",
        "geometry",
        "sum of",
        "how many",
        "percent",
        "fraction",
        "prime",
        "factor",
        "polynomial",
        "limit",
        "triangle",
        "\\d+\\s*[-+*/^]\\s*\\d+",
    ),
    "science": (
        "physics",
        "chemistry",
        "biology",
        "molecule",
        "atom",
        "cell",
        "energy",
        "gravity",
        "quantum",
        "dna",
        "protein",
        "evolution",
        "climate",
        "planet",
        "reaction",
        "experiment",
        "hypothesis",
        "species",
        "medicine",
        "disease",
    ),
    "writing": (
        "write a story",
        "poem",
        "essay",
        "blog post",
        "email",
        "letter",
        "rewrite",
        "paraphrase",
        "summarize",
        "summary",
        "tone",
        "story",
        "creative",
        "headline",
        "slogan",
        "translate",
        "proofread",
        "draft",
        "cover letter",
        "narrative",
    ),
    "analysis": (
        "analy[sz]e",
        "compare",
        "evaluate",
        "pros and cons",
        "trade-?offs?",
        "assess",
        "strategy",
        "market",
        "trend",
        "data",
        "report",
        "insight",
        "recommend",
        "explain why",
        "impact",
        "risk",
        "forecast",
        "business",
        "decision",
    ),
}

_PATTERNS: Final = {
    domain: re.compile(r"\b(?:" + "|".join(words) + r")\b", re.IGNORECASE) for domain, words in _KEYWORDS.items()
}


def detect_domain(prompt: str) -> str:
    """Return the most likely domain of `prompt`, or `"general"` when no domain's cues stand out.

    A lexical classifier: it counts each domain's cue words and picks the domain with the most
    hits (ties go to the order of `DOMAINS`). Cheap (tens of microseconds) and offline.
    """
    best, best_hits = "general", 0
    for domain, pattern in _PATTERNS.items():
        hits = len(pattern.findall(prompt))
        if hits > best_hits:
            best, best_hits = domain, hits
    return best
