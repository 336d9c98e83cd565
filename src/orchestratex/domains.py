"""Task domains, and a lexical classifier that detects one from a prompt (no download, no model)."""

from __future__ import annotations

import re
from typing import Final

from ._unseen import unseen
from .exceptions import UserError

__all__ = ["DOMAINS", "check_domain", "check_specialty", "detect_domain"]

DOMAINS: Final = ("coding", "math", "science", "writing", "analysis", "general")
"""The domains that routing statistics and model specialties are kept for."""


def check_domain(domain: object) -> str | None:
    """`domain` as a run keeps it, or None (detected from the prompt); `UserError` when it cannot be one.

    A built-in domain (`DOMAINS`) is matched in any case and kept lowercase (`" Coding"` is `coding`, so a model's
    `coding` specialty applies). Another name is a domain of its own, kept as given without its surrounding spaces
    (case and all: it is matched exactly, e.g. against the tasks of the table a `FittedRouter` was fitted on):
    routers learn it apart, and no specialty applies to it. A name one typo away from a built-in domain (`codeing`,
    `maths`) is refused naming the one meant, as is an empty name or one that is not a string. Every way of giving
    a domain — `run(domain=...)`, `create_thread`, the command line's `--domain`, the server's `domain` fields —
    goes through it."""
    if domain is None:
        return None
    choices = ", ".join(DOMAINS)
    if not isinstance(domain, str):
        raise UserError(
            f"domain must be a string (one of {choices}, or a name of your own), not {type(domain).__name__} {domain!r}"
        )
    name = domain.strip()
    lowered = name.lower()
    if lowered in DOMAINS:
        return lowered
    if not name:
        raise UserError(f"domain is empty: give one ({choices}, or a name of your own), or leave it unset to detect it")
    hidden = next((c for c in name if unseen(c)), None)
    if hidden is not None:  # (before the typo check: `co\x9bding` is no misspelling, `acme\n…` no name)
        raise UserError(
            f"domain {domain!r:.80} holds the character U+{ord(hidden):04X}, which shows as nothing or breaks a line:"
            " a domain is a name (coding, or one of your own such as acme-contracts), stored with every run and"
            " shown in statistics"
        )
    close = _misspelt(lowered)
    if close:
        raise UserError(
            f"domain {domain!r} looks like {close!r} misspelt: write {close!r} (the built-in domains are "
            f"{choices}; a domain of your own must not be one typo away from one of them)"
        )
    return name


def check_specialty(specialty: str) -> str:
    """A model's specialty as a catalog keeps it (`ModelProfile.specialties`, a catalog file's `specialties`).

    Matched as `check_domain` matches a domain: a built-in domain in any case, without its surrounding spaces, is kept
    lowercase (`"CODING"` is `coding`, so it applies to a run whose domain is `coding`). Anything else is refused
    (`UserError`), as a specialty only ever applies to a built-in domain; a name one typo away from one
    (`codeing`) is refused naming the one meant."""
    lowered = specialty.strip().lower()
    if lowered in DOMAINS:
        return lowered
    choices = ", ".join(DOMAINS)
    close = _misspelt(lowered)
    if close:
        raise UserError(
            f"unknown domain {specialty!r}: it looks like {close!r} misspelt: write {close!r} (specialties are among"
            f" {choices})"
        )
    raise UserError(f"unknown domain {specialty!r}: specialties are among {choices}")


def _misspelt(lowered: str) -> str | None:
    """The built-in domain `lowered` is one typo away from, if any."""
    if not lowered:
        return None
    import difflib  # (only for a name that is not a built-in domain)

    close = difflib.get_close_matches(lowered, DOMAINS, n=1, cutoff=0.8)
    return close[0] if close else None


_KEYWORDS: Final[dict[str, tuple[str, ...]]] = {
    "coding": (
        "python",
        "javascript",
        "typescript",
        "java",
        "kotlin",
        "rust",
        "golang",
        "c\\+\\+",
        "c#",
        "sql",
        "bash",
        "shell script",
        "shell command",
        "node\\.?js",
        "npm",
        "react(?:\\.?js)? (?:app|component|hook)",
        "reactjs",
        "django",
        "flask",
        "pandas",
        "numpy",
        "function",
        "code",
        "coding",
        "program that",
        "programming",
        "bug",
        "debug",
        "compile",
        "compiler",
        "class",
        "api",
        "endpoint",
        "regex",
        "regular expression",
        "algorithm",
        "time complexity",
        "implement",
        "script",
        "def",
        "return",
        "variable",
        "list comprehension",
        "for loop",
        "while loop",
        "dictionaries",
        "null pointer",
        "async",
        "parser",
        "parse",
        "unit test",
        "refactor",
        "stack trace",
        "segfault",
        "exception",
        "library",
        "json",
        "xml",
        "yaml",
        "csv",
        "html",
        "css",
        "div",
        "docker(?:file)?",
        "git",
        "cli",
        "fibonacci",
        "recursion",
        "array",
        "linked list",
        "quicksort",
        "binary search",
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
        "compute",
        "probability",
        "matrix",
        "determinant",
        "eigenvalue",
        "algebra",
        "geometry",
        "sum of",
        "how many",
        "percent",
        "\\d+(?:\\.\\d+)?\\s*%",
        "fraction",
        "prime",
        "factor(?!s)",
        "factori[sz]e",
        "divisor",
        "polynomial",
        "limit(?!s)",
        "triangle",
        "sphere",
        "radius",
        "square root",
        "average",
        "\\d+\\s*[-+*/^]\\s*\\d+",
        "[a-z]\\^\\d+",
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
        "global warming",
        "planet",
        "reaction",
        "reactor",
        "experiment",
        "hypothesis",
        "species",
        "medicine",
        "disease",
        "photosynthesis",
        "earthquake",
        "volcano",
        "vaccine",
        "immune system",
        "bacteria",
        "virus",
        "mitosis",
        "meiosis",
        "neuron",
        "black hole",
        "dark matter",
        "entropy",
        "boiling point",
        "speed of light",
        "water cycle",
    ),
    "writing": (
        "write a story",
        "poem",
        "haiku",
        "limerick",
        "sonnet",
        "lyrics",
        "essay",
        "blog post",
        "linkedin post",
        "tweet",
        "email",
        "letter",
        "thank-you note",
        "birthday message",
        "a speech",
        "toast",
        "tagline",
        "product description",
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
        "advantages and disadvantages",
        "strengths and weaknesses",
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
        "startup",
        "invest(?:ing|ment)?",
        "decision",
        "factors",
        "should (?:i|we|my|our)",
    ),
}

_PATTERNS: Final = {
    # a cue is a whole word or phrase, in the singular or the plural ("functions", "risks"); ended by no letter rather
    # than `\b`, which needs a letter after "c++" (so "C++" never matched) and before "%". (Every cue starts with a
    # letter or a digit, so `\b` starts one: `(?<!\w)` entered the alternation at every punctuation mark, ten times
    # slower on a pasted 64 KiB of it.)
    domain: re.compile(r"\b(?:" + "|".join(words) + r")(?:e?s)?(?!\w)", re.IGNORECASE)
    for domain, words in _KEYWORDS.items()
}


_READ: Final = 32_768
"""How many characters `detect_domain` reads at each end of a longer prompt: the question and the start of what it
is about. Reading all of it took 15 s for a 20 MB prompt piped to `orchestratex run -` (3 s for the server's 5 MB
request limit), with the event loop blocked: Ctrl-C was not heard and a server answered no other request."""


def detect_domain(prompt: str) -> str:
    """Return the most likely domain of `prompt`, or `"general"` when no domain's cues stand out.

    A lexical classifier: it counts each domain's cue words and picks the domain with the most
    hits (ties go to the order of `DOMAINS`). Cheap (tens of microseconds) and offline; of a prompt
    longer than 64 KiB characters it reads the first and the last 32 KiB.
    """
    if not isinstance(prompt, str):  # ("object of type 'NoneType' has no len()")
        raise UserError(f"detect_domain takes the prompt's text (a str), not {type(prompt).__name__} {prompt!r:.60}")
    text = prompt if len(prompt) <= 2 * _READ else f"{prompt[:_READ]}\n{prompt[-_READ:]}"
    best, best_hits = "general", 0
    for domain, pattern in _PATTERNS.items():
        hits = len(pattern.findall(text))
        if hits > best_hits:
            best, best_hits = domain, hits
    return best
