"""`detect_domain` on prompts of any size: it reads a bounded part of a long one, its start and its end."""

from __future__ import annotations

import re
from typing import Any, cast

import pytest

from orchestratex import UserError, domains
from orchestratex.domains import detect_domain


class _Recording:
    def __init__(self, pattern: re.Pattern[str], read: list[int]) -> None:
        self.pattern = pattern
        self.read = read

    def findall(self, text: str) -> list[str]:
        self.read.append(len(text))
        return self.pattern.findall(text)


@pytest.mark.parametrize("size", [100_000, 20_000_000])
def test_a_long_prompt_is_read_at_its_ends_only(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """Every character was matched against every domain's cues: a 20 MB prompt piped to `orchestratex run -` spent
    15 s there with the event loop blocked (Ctrl-C unheard), and a 5 MB request held a server for 3 s."""
    read: list[int] = []
    recording = {domain: _Recording(pattern, read) for domain, pattern in domains._PATTERNS.items()}
    monkeypatch.setattr(domains, "_PATTERNS", recording)
    prompt = "Explain this code. " + "word " * (size // 5) + " Write a Python function to parse it."
    assert detect_domain(prompt) == "coding"
    assert len(read) == len(recording) and max(read) <= 2 * domains._READ + 1


def test_the_question_at_the_end_of_a_long_pasted_text_decides() -> None:
    pasted = "lorem ipsum dolor sit amet " * 20_000  # no cue of any domain
    assert detect_domain(pasted + "\n\nSolve this equation and prove the theorem.") == "math"
    assert detect_domain("Debug this Python function:\n" + pasted) == "coding"
    assert detect_domain(pasted) == "general"


def test_a_prompt_within_the_limit_is_read_whole() -> None:
    prompt = "lorem " * 5_000 + "integral derivative equation " + "lorem " * 5_000
    assert len(prompt) <= 2 * domains._READ
    assert detect_domain(prompt) == "math"


@pytest.mark.parametrize("prompt", [None, b"Write a Python function", ["Write a Python function"]])
def test_a_prompt_that_is_no_text_is_refused_saying_so(prompt: object) -> None:
    # detect_domain(None) raised "TypeError: object of type 'NoneType' has no len()", and a list "expected string or
    # bytes-like object, got 'list'"
    with pytest.raises(UserError, match=r"^detect_domain takes the prompt's text \(a str\), not "):
        detect_domain(cast(Any, prompt))


@pytest.mark.parametrize(
    ("prompt", "domain"),
    [
        ("Write a parser for ISO dates", "coding"),
        ("Write unit tests for these functions", "coding"),
        ("Convert this loop to a list comprehension", "coding"),
        ("How do I read a CSV file in pandas?", "coding"),
        ("Why am I getting a null pointer exception in Kotlin?", "coding"),
        ("Write a Dockerfile for a Node app", "coding"),
        ("Fix the memory leak in this C++ class", "coding"),
        ("Find the area of a circle with radius 5", "math"),
        ("What is 15% of 80?", "math"),
        ("Simplify x^2 - 1 over x - 1", "math"),
        ("How does photosynthesis work?", "science"),
        ("Explain how vaccines train the immune system", "science"),
        ("How do black holes form?", "science"),
        ("Write a haiku about the sea", "writing"),
        ("Write a LinkedIn post announcing my new job", "writing"),
        ("Write a thank-you note to my teacher", "writing"),
        ("What are the risks of investing in crypto?", "analysis"),
        ("Should we hire a contractor or a full-time employee?", "analysis"),
        ("Who wrote Pride and Prejudice?", "general"),
        ("What's the capital of Australia?", "general"),
    ],
)
def test_plain_prompts_of_each_domain_are_detected(prompt: str, domain: str) -> None:
    # the cues were whole words in the singular only, bounded so that "C++" never matched: "Write a parser for ISO
    # dates", "Write unit tests for these functions", "How do black holes form?" and a haiku all read as "general"
    assert detect_domain(prompt) == domain


@pytest.mark.parametrize(
    ("prompt", "domain"),
    [
        ("What factors drive housing prices?", "analysis"),
        ("What are the limits of free speech?", "general"),
        ("Which areas of Paris are safe at night?", "general"),
        ("Write a light-hearted poem about Mondays", "writing"),
        ("Why does this error message appear when I log in to my bank?", "general"),
        ("Any pointers on improving my essay?", "writing"),
        ("How did the stock market react to the news?", "analysis"),
        ("Is a string quartet good for a wedding?", "general"),
        ("Keep me in the loop about the party", "general"),
        ("Who is in the inner circle of the president?", "general"),
    ],
)
def test_everyday_words_are_no_cue_of_a_domain(prompt: str, domain: str) -> None:
    # with a cue's plural counted, "factors", "limits", "areas", "pointers" and "loop", "string", "react", "light",
    # "message" read these as math, coding, science or writing
    assert detect_domain(prompt) == domain
