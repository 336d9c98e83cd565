"""Scores as the CLI shows them."""

from __future__ import annotations

import math

__all__ = ["score_text"]


def score_text(score: float) -> str:
    """`score` (0–10) to two decimals at most, cut rather than rounded, with one at least: `8.96`, `9.0`, `7.5`.
    Rounded to one decimal, an answer judged 8.96 under a threshold of 9 read "9.0/10" while the run went on to
    refine it for scoring below the threshold (as the web console shows scores)."""
    if not math.isfinite(score):
        return str(score)
    cut = math.floor(round(score * 100, 6)) / 100
    text = f"{cut:.2f}"
    return text[:-1] if text.endswith("0") else text
