"""Model profiles for a table's models, with prices that reproduce the table's per-prompt costs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..catalog import ModelProfile
from ..exceptions import UserError
from ._deps import require
from ._table import OutcomeTable, check_arguments

__all__ = ["PriceFit", "fit_prices", "profiles_for"]

CHARS_PER_TOKEN = 4.0
"""The token estimate used when a table has text but no token counts."""

DEFAULT_ANSWER_CHARS = 400.0
"""The length of an answer when the table does not record it (`replay_loop` answers so, and prices are fitted so)."""


@dataclass(frozen=True, slots=True)
class PriceFit:
    """Prices per 1k tokens fitted to one model's costs, and how well they reproduce them."""

    model: str
    input_cost_per_1k: float
    output_cost_per_1k: float
    relative_error: float
    """Mean absolute error of the reproduced per-prompt costs, relative to their mean."""


def fit_prices(table: OutcomeTable) -> list[PriceFit]:
    """Non-negative input and output prices per 1k tokens that best reproduce each model's costs.

    Tokens are estimated as characters / 4 (prompt in, answer out). Without answer lengths in the table, one
    price per 1k tokens in and out is fitted, each answer taken as `DEFAULT_ANSWER_CHARS` (400 characters), as
    `replay_loop` answers: before, the price was fitted on the prompt's tokens alone, so a replayed call's reserved
    worst case (its answer's tokens at that price too) was many times its recorded cost, and a `cost_limit` that
    the recorded costs fitted stopped the runs before any answer. A model billed the same on every prompt (two or more,
    not free: RouteLLM's 1 per GPT-4 call) is priced per call: input 0, and its longest answer's tokens at that price.
    """
    check_arguments("fit_prices(table)", table)
    nnls = require("scipy.optimize").nnls
    prompt_tokens = np.asarray([len(p) for p in table.prompts], dtype=np.float64) / CHARS_PER_TOKEN
    fits = []
    for j, model in enumerate(table.models):
        rows = table.observed[:, j]
        if not rows.any():  # (nothing to fit: the prices would come out 0, a free model by accident)
            if len(table) == 0:
                raise UserError(f"table {table.name!r} has no rows (was it filtered empty?): no price can be fitted")
            raise UserError(
                f"table {table.name!r} has no observed cost of {model!r}: its prices cannot be fitted (they would be 0,"
                " a free model); leave it out (table.with_models(...)) or give its ModelProfile yourself"
            )
        y = table.cost[rows, j]
        x_in = prompt_tokens[rows] / 1000
        if per_call(y):
            # billed the same on every prompt (RouteLLM's 1 per GPT-4 call): a price per call, for the answer's
            # tokens alone (its longest recorded answer's), so a call reserves its recorded cost whatever its prompt's
            # or its answer's length; priced per token, a long prompt's call reserved more than it costs (1.55 for
            # RouteLLM's 1.0), and a small cost_limit kept the model out of runs the recorded costs fit
            fits.append(PriceFit(model, 0.0, float(y[0]) * 1000 / _answer_tokens(table, j), 0.0))
            continue
        if table.output_chars is not None:
            x = np.stack([x_in, table.output_chars[rows, j] / CHARS_PER_TOKEN / 1000], axis=1)
            (p_in, p_out), _ = nnls(x, y)
        else:
            x = np.stack([x_in, np.full_like(x_in, DEFAULT_ANSWER_CHARS / CHARS_PER_TOKEN / 1000)], axis=1)
            (p_in,), _ = nnls(x.sum(axis=1)[:, None], y)
            p_out = p_in
        reproduced = x @ np.array([p_in, p_out])
        mean = float(y.mean()) if y.size else 0.0
        error = float(np.abs(reproduced - y).mean() / mean) if mean > 0 else 0.0
        fits.append(PriceFit(model, float(p_in), float(p_out), error))
    return fits


def per_call(costs: np.ndarray) -> bool:
    """Whether a model's observed `costs` (two or more) are one price per call: all the same, and not 0."""
    return costs.size > 1 and float(costs[0]) > 0 and bool(np.all(costs == costs[0]))


def _answer_tokens(table: OutcomeTable, col: int) -> int:
    """The tokens of model `col`'s longest recorded answer (`DEFAULT_ANSWER_CHARS`' without lengths), as the lab's
    providers count them."""
    if table.output_chars is None:
        return math.ceil(DEFAULT_ANSWER_CHARS / CHARS_PER_TOKEN)
    chars = table.output_chars[table.observed[:, col], col]
    return max(math.ceil(float(chars.max()) / CHARS_PER_TOKEN), 1)


def profiles_for(table: OutcomeTable, *, provider: str = "lab") -> list[ModelProfile]:
    """One `ModelProfile` per table model, named `<provider>:<model>`, priced by `fit_prices`.

    The profile's `version` is the table's model name, so routers and `replay` match them.
    """
    check_arguments("profiles_for(table)", table)
    if not isinstance(provider, str) or not provider or ":" in provider or provider != provider.strip():
        raise UserError(
            f"provider is a plain name (the part before ':' in the profiles' names), e.g. provider='lab'; "
            f"got {provider!r}"
        )
    return [
        ModelProfile(
            name=f"{provider}:{fit.model}",
            provider=provider,
            version=fit.model,
            input_cost_per_1k=round(fit.input_cost_per_1k, 9),
            output_cost_per_1k=round(fit.output_cost_per_1k, 9),
        )
        for fit in fit_prices(table)
    ]
