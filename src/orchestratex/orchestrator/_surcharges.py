"""What vendors bill above the catalog's prices, learnt from their bills and reserved before the next call.

A project whose default OpenAI service tier is `priority` (about twice the list prices), an Anthropic workspace whose
default inference geography is the US (1.1 times), cache writes (1.25 or 2 times the input price), a gateway's own
`usage.cost`: the request cannot know these in advance, so a call reserved at the catalog's prices could cost more
than was reserved (an overage, and the model was dropped from the run). Once a model's call was billed above the
catalog price of its usage, its later calls in the same orchestrator are reserved at that ratio (the highest seen,
at most `MAX_SURCHARGE`), so the surcharge is held before the call is made and a call it no longer fits is not made.
A model then billed at or below its catalog price `FORGET_AFTER` times in a row (a project moved back to the default
tier) has its ratio forgotten, and twice as many bills in a row are needed each time it is forgotten again (a surcharge
that comes and goes, as cache writes, is then reserved most of the time: the first bill after it is forgotten is
counted as the first ever was, an overage when it exceeds its reservation).
"""

from __future__ import annotations

import logging
import math

from ..usage import PICO

__all__ = ["FORGET_AFTER", "MAX_SURCHARGE", "Surcharges"]

logger = logging.getLogger("orchestratex.orchestrator")

MAX_SURCHARGE = 4.0
"""The most a learnt surcharge multiplies a model's reservations by: a bill far above the catalog price says the
catalog's prices are wrong, not that a tier surcharged them (what exceeds is then an overage, as before)."""
FORGET_AFTER = 5
"""How many bills in a row at or below a surcharged model's catalog price forget its ratio (the first time)."""
_PICO_DOLLAR = 1 / PICO


class Surcharges:
    """Per model name, the ratio of a bill to the catalog price of its usage (above 1 only), as one orchestrator saw
    it: its runs' answers and billed failures, and a resumed run's recorded calls (`Run._prepare`)."""

    __slots__ = ("after", "plain", "ratios", "version")

    def __init__(self) -> None:
        self.ratios: dict[str, float] = {}
        """Model name → what its reservations are multiplied by (only models billed above their catalog price)."""
        self.version = 0
        """Bumped when a ratio is learnt, raised or forgotten: prices derived from the former ones are stale
        (`JudgePlanner`)."""
        self.plain: dict[str, int] = {}
        """Model name → its bills in a row at or below its catalog price since it was last billed above it."""
        self.after: dict[str, int] = {}
        """Model name → how many such bills forget its ratio, when not `FORGET_AFTER` (doubled each time)."""

    def billed(self, name: str, cost: float, catalog_cost: float | None) -> None:
        """A call of `name` this orchestrator made was billed `cost` for usage that costs `catalog_cost` at the
        catalog's prices: above it, `learn`; at or below it, a surcharged model's ratio is forgotten once it has been
        billed so `FORGET_AFTER` times in a row (twice as many each time it is forgotten again)."""
        if catalog_cost is None or not catalog_cost > 0:  # (NaN fails too)
            return
        if cost > catalog_cost + _PICO_DOLLAR:
            self.learn(name, cost, catalog_cost)
            return
        if name not in self.ratios:
            return
        plain = self.plain.get(name, 0) + 1
        after = self.after.get(name, FORGET_AFTER)
        if plain < after:
            self.plain[name] = plain
            return
        ratio = self.ratios.pop(name)
        self.plain.pop(name, None)
        self.after[name] = 2 * after
        self.version += 1
        logger.info(
            "%s was billed at its catalog price %d times in a row: its calls are reserved at their catalog worst case"
            " again, not %.3g times it",
            name,
            plain,
            ratio,
        )

    def reset(self, name: str | None = None) -> None:
        """Forget what was learnt of `name` (of every model when None): its calls are reserved at the catalog's prices
        until it is billed above them again."""
        names = list(self.ratios) if name is None else [name]
        for each in names:
            self.ratios.pop(each, None)
        if name is None:
            self.plain.clear()
            self.after.clear()
        else:
            self.plain.pop(name, None)
            self.after.pop(name, None)
        self.version += 1

    def learn(self, name: str, cost: float, catalog_cost: float | None) -> None:
        """A call of `name` was billed `cost` for usage that costs `catalog_cost` at the catalog's prices: when it is
        more (by over a pico-dollar of rounding), its later reservations are priced at that ratio, rounded up (the
        bill was rounded to the pico-dollar), at most `MAX_SURCHARGE`; a lower ratio than one seen is ignored."""
        if catalog_cost is None or not 0 < catalog_cost < cost - _PICO_DOLLAR:  # (NaN fails too)
            return
        self.plain.pop(name, None)  # (billed above: the bills at the catalog price in a row start again)
        ratio = min((cost + _PICO_DOLLAR) / catalog_cost, MAX_SURCHARGE)
        if ratio <= self.ratios.get(name, 1.0):
            return
        self.ratios[name] = ratio
        self.version += 1
        logger.info(
            "%s was billed $%.6f for usage the catalog prices at $%.6f: its calls are reserved at %.3g times their"
            " catalog worst case from now on",
            name,
            cost,
            catalog_cost,
            ratio,
        )

    def worst(self, name: str, worst: float) -> float:
        """A call of `name` whose worst case at the catalog's prices is `worst`: what to reserve for it."""
        ratio = self.ratios.get(name)
        return worst if ratio is None else surcharged(worst, ratio)

    def budget(self, name: str, budget: float | None) -> float | None:
        """What of `budget` a call of `name` may spend at the catalog's prices (its output cap is sized on it): all of
        it, or a surcharged model's share, so that its surcharged worst case (`worst`) stays within `budget`."""
        ratio = self.ratios.get(name)
        if ratio is None or budget is None:
            return budget
        return budget / ratio - 2 * _PICO_DOLLAR  # (`affordable_cap` allows a pico-dollar over; `surcharged` rounds up)


def surcharged(worst: float, ratio: float) -> float:
    """`worst` times `ratio`, rounded up to the pico-dollar (a bound stays a bound)."""
    return math.ceil(worst * ratio * PICO) / PICO
