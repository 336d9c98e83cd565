"""Small synthetic outcome tables for the lab's and the fitted router's tests."""

from __future__ import annotations

import numpy as np

from orchestratex.lab import OutcomeTable

MODELS = ("small", "medium", "large")
COSTS = (0.0001, 0.001, 0.01)


def synthetic_table(n: int = 120, *, seed: int = 0, name: str = "synthetic") -> OutcomeTable:
    """Easy prompts every model gets right; hard ones only `large` (and `medium` half the time).

    Easy and hard prompts differ by their words, so a text router can tell them apart; the two
    tasks ("facts", "proofs") have different shares of hard prompts.
    """
    rng = np.random.default_rng(seed)
    prompts, quality, tasks = [], [], []
    for i in range(n):
        task = "facts" if i % 2 == 0 else "proofs"
        hard = rng.random() < (0.2 if task == "facts" else 0.7)
        words = "prove the theorem about primes and integrals" if hard else "what colour is the sky on a day"
        prompts.append(f"Question {i}.\n\n{words} number {i}")
        quality.append([0.0 if hard else 1.0, float(rng.random() < 0.5) if hard else 1.0, 1.0])
        tasks.append(task)
    cost = np.tile(np.asarray(COSTS), (n, 1))
    chars = np.tile(np.asarray([40.0, 80.0, 120.0]), (n, 1))
    return OutcomeTable(
        name=name,
        models=MODELS,
        prompts=tuple(prompts),
        quality=np.asarray(quality),
        cost=cost,
        tasks=tuple(tasks),
        output_chars=chars,
    )
