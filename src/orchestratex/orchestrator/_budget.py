"""Budget arithmetic of one call: what it is counted as costing, and (later) what it may reserve."""

from __future__ import annotations

import logging
import math

from ..catalog import ModelProfile
from ..providers import Generation

__all__ = ["price_generation"]

logger = logging.getLogger("orchestratex.orchestrator")


def price_generation(model: ModelProfile, gen: Generation) -> float:
    """Fill in `gen.catalog_cost` and `gen.cost` (the provider's reported cost when it gave a usable
    one, else the catalog price of the usage); return the counted cost."""
    gen.catalog_cost = model.cost(gen.usage)
    reported = gen.reported_cost
    if reported is not None and not (math.isfinite(reported) and reported >= 0):
        logger.warning("%s reported an unusable cost %r; the catalog price is counted", model.name, reported)
        gen.reported_cost = reported = None
    gen.cost = gen.catalog_cost if reported is None else float(reported)
    return gen.cost
