"""Budget arithmetic of one call: what it is counted as costing, how many output tokens it may
produce (the cap sent to the provider, which the reservation prices), and waiting for a session's
other runs to release their reservations."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext

from .._frozen import frozen_errors
from .._plain import is_real, is_whole, plain
from ..catalog import ModelProfile
from ..exceptions import MalformedResponse, UserError
from ..providers import Generation
from ..stores import Store
from ..usage import MAX_AMOUNT, Usage, add_costs, exact_pico
from ._ledger import assign

__all__ = [
    "OutputCapPolicy",
    "OutputLengths",
    "affordable_cap",
    "price_generation",
    "reserve_waiting",
    "whole_usage",
]

logger = logging.getLogger("orchestratex.orchestrator")

_EPS = 1e-12


def price_generation(model: ModelProfile, gen: Generation, worst: float) -> float:
    """Fill in `gen.catalog_cost` and `gen.cost` (the provider's reported cost when it gave a usable
    one, else the catalog price of the usage); return the counted cost.

    Cached input (or reasoning) tokens above the input (or output) tokens that include them were reported apart:
    they are added in (with a warning), so that every token is priced. Usage that cannot be priced — a negative
    token count, or a cost above `MAX_AMOUNT`, the most any one amount may be in a store — is a `MalformedResponse`
    (the call is recorded failed, at no cost, and the run goes on with another model): counted, it would make the
    step's commit fail and leave the run unfinished. A reported cost that is negative, not finite or above
    `MAX_AMOUNT` is ignored for the catalog price; a usable one is counted rounded to the pico-dollar, as every
    total adds it. A priced model's answer with neither usage nor a usable reported cost is counted at `worst`, the
    call's reserved worst case (never as free), with a warning."""
    usage = gen.usage
    if min(usage.input_tokens, usage.output_tokens, usage.cached_input_tokens, usage.reasoning_tokens) < 0:
        raise MalformedResponse(
            f"{model.name} reported a negative token count ({usage.input_tokens} input, {usage.output_tokens} output,"
            f" {usage.cached_input_tokens} cached, {usage.reasoning_tokens} reasoning): its cost cannot be known",
            model=model.name,
        )
    if (whole := whole_usage(model, usage)) is not usage:
        usage = whole
        assign(gen, usage=usage)
    catalog_cost = model.cost(usage)
    if catalog_cost > MAX_AMOUNT:
        raise MalformedResponse(
            f"{model.name} reported {usage.input_tokens} input and {usage.output_tokens} output tokens, which would"
            f" cost ${catalog_cost:,.2f}: more than the ${MAX_AMOUNT:,.0f} any one call may be counted",
            model=model.name,
        )
    reported = gen.reported_cost
    if reported is not None and not (math.isfinite(reported) and 0 <= reported <= MAX_AMOUNT):
        logger.warning("%s reported an unusable cost %r; the catalog price is counted", model.name, reported)
        assign(gen, reported_cost=None)
        reported = None
    # (a reported cost is counted to the pico-dollar, as every amount is added: `cost` is the amount counted)
    cost = catalog_cost if reported is None else add_costs(float(reported))
    if not usage.output_tokens and reported is None and gen.text and model.output_cost_per_1k:
        # (a provider of one's own that sets no usage: its answer is not free; it costs at most what was reserved)
        logger.warning(
            "%s answered without reporting its usage (0 output tokens, no usable cost): counted at its reserved worst"
            " case, $%.6f; a provider should set Generation.usage (or reported_cost)",
            model.name,
            worst,
        )
        cost = worst
    assign(gen, catalog_cost=catalog_cost, cost=cost)
    return cost


def whole_usage(model: ModelProfile, usage: Usage) -> Usage:
    """`usage` with every token priced: itself, or (with a warning) its cached input (or reasoning) tokens added in
    when they are more than the input (or output) tokens that include them (`_parts_added`). An answer's usage and a
    billed failure's (`ContentFiltered.usage`) are priced alike."""
    if usage.cached_input_tokens > usage.input_tokens or usage.reasoning_tokens > usage.output_tokens:
        return _parts_added(model, usage)
    return usage


def _parts_added(model: ModelProfile, usage: Usage) -> Usage:
    """`usage` whose cached input (or reasoning) tokens are more than its input (or output) tokens, which include them:
    an adapter of one's own reporting them apart, as Anthropic's API reports cache reads (and Gemini thinking tokens).
    They are added in, so every token is priced: `input_tokens=10, cached_input_tokens=100` was priced as 100 cached
    tokens and the 10 others at $0."""
    logger.warning(
        "%s reported %d input tokens with %d cached and %d output tokens with %d reasoning: the cached (or reasoning)"
        " tokens are counted as reported apart and added in; a provider should count them in input_tokens (or"
        " output_tokens)",
        model.name,
        usage.input_tokens,
        usage.cached_input_tokens,
        usage.output_tokens,
        usage.reasoning_tokens,
    )
    return usage.model_copy(
        update={
            "input_tokens": usage.input_tokens
            + (usage.cached_input_tokens if usage.cached_input_tokens > usage.input_tokens else 0),
            "output_tokens": usage.output_tokens
            + (usage.reasoning_tokens if usage.reasoning_tokens > usage.output_tokens else 0),
        }
    )


@frozen_errors("orchestrator.output_cap")
@dataclass(frozen=True, slots=True)
class OutputCapPolicy:
    """How many output tokens each call may produce: the cap is sent to the provider as the call's
    `max_output_tokens` (so it is enforced, not hoped) and is what the budget reserves.

    The cap is the smallest of the run's `max_output_tokens`, the model's own limit, a cap learned
    from the model's observed output lengths (the `quantile` of its last `window` answers times
    `headroom`, once it has `min_observations`; never below `min_tokens`), and — when a budget is
    set — what the remaining budget can pay for. A model whose affordable cap falls below what it
    usually needs (its learned quantile, or `min_tokens` before it has been observed) does not fit.
    An answer cut at a learned cap (finish reason `length`) counts as twice as long, so the cap
    grows back quickly; one cut at a smaller cap (the run's own `max_output_tokens`, or its budget's) is not
    counted. `learn=False` keeps the run's `max_output_tokens` whenever the budget allows.
    """

    learn: bool = True
    """False: always send the run's `max_output_tokens` when the budget allows (no learned cap)."""
    quantile: float = 0.95
    """The quantile of a model's recent answer lengths the learned cap starts from."""
    headroom: float = 1.5
    """What the quantile is multiplied by."""
    min_observations: int = 5
    """Answers a model must have given before its cap is learned."""
    min_tokens: int = 256
    """The lowest learned cap of an answer."""
    min_judge_tokens: int = 64
    """The lowest learned cap of a judge's verdict."""
    window: int = 200
    """How many of a model's latest answers the quantile is taken over."""

    def __post_init__(self) -> None:
        if not isinstance(self.learn, bool):  # ("no" or "false" from a config file would have meant True)
            raise UserError(f"learn must be True or False, not {self.learn!r}")
        for name in ("quantile", "headroom"):
            value = getattr(self, name)
            if not is_real(value):
                raise UserError(f"{name} must be a number, not {type(value).__name__} {value!r}")
            object.__setattr__(self, name, plain(value))  # (numpy's numbers too: `np.float32(0.9)` was "not float32")
        for name in ("min_observations", "min_tokens", "min_judge_tokens", "window"):
            value = getattr(self, name)
            if not is_whole(value):
                raise UserError(f"{name} must be a whole number, not {type(value).__name__} {value!r}")
            object.__setattr__(self, name, plain(value))
        if not 0 < self.quantile <= 1:
            raise UserError(f"quantile must be in (0, 1], not {self.quantile!r}")
        if not 1 <= self.headroom < math.inf:
            raise UserError(f"headroom must be a finite number >= 1, not {self.headroom!r}")
        if self.min_observations < 1 or self.window < self.min_observations:
            raise UserError("need 1 <= min_observations <= window")
        if self.min_tokens < 1 or self.min_judge_tokens < 1:
            raise UserError("min_tokens and min_judge_tokens must be >= 1")


class OutputLengths:
    """Recent output lengths per (model, purpose), observed by one orchestrator.

    Each window is kept twice: in arrival order (to evict the oldest) and sorted (so the quantile is
    an index, read without sorting on every routing decision). The caps read are remembered while the
    quantiles they derive from stay the same: every run's routing decision reads the same few, for each
    candidate and judge, and most observations leave the quantile where it was."""

    def __init__(self, policy: OutputCapPolicy) -> None:
        self.policy = policy
        self._seen: dict[tuple[str, str], tuple[deque[int], list[int]]] = {}
        self._caps: dict[tuple[str, str, int, int], tuple[int, int]] = {}
        """`cap`'s answers since a quantile last changed, by (model, purpose, limit, the model's own limit)."""
        self.version = 0
        """Bumped when an observation changes a quantile (`typical`): caps derived from the lengths are valid
        while it stays."""

    def observe(
        self, model: str, purpose: str, tokens: int, *, finish_reason: str | None, cap: int, most: int | None = None
    ) -> None:
        """Learn from an answer of `tokens` output tokens sent with output cap `cap`, by a model that may write up to
        `most` (its `max_output_tokens`; None: unknown). An answer cut at its cap (finish reason `length`) counts as
        twice the cap when the cap was what this policy lets the model write; one cut at a smaller cap — the run's own
        `max_output_tokens`, or what its budget could pay for — is not counted: it says only that the answer wanted
        more than that cap (runs with `max_output_tokens=40` taught a learned cap of 256 tokens, which then cut a run
        asking 4,000 with no budget)."""
        if finish_reason == "length" and tokens >= cap:  # censored: the answer wanted more than the cap
            if most is not None and cap < self._let_write(model, purpose, most):
                return
            tokens = 2 * cap
        window = self._seen.get((model, purpose))
        if window is None:
            window = self._seen[(model, purpose)] = (deque(), [])
        arrived, ordered = window
        before = self._quantile(ordered)
        if len(arrived) >= self.policy.window:
            del ordered[bisect_left(ordered, arrived.popleft())]
        tokens = max(tokens, 1)
        arrived.append(tokens)
        insort(ordered, tokens)
        if self._quantile(ordered) != before:
            self.version += 1
            self._caps.clear()

    def _let_write(self, model: str, purpose: str, most: int) -> int:
        """The cap this policy sends the model when no run's limit or budget is lower: its learned cap, else `most`."""
        typical = self.typical(model, purpose)
        if typical is None:
            return most
        floor = self.policy.min_tokens if purpose == "generate" else self.policy.min_judge_tokens
        return min(most, max(math.ceil(typical * self.policy.headroom), floor))

    def typical(self, model: str, purpose: str) -> int | None:
        """The policy's quantile of the model's recent output lengths (None before `min_observations`)."""
        window = self._seen.get((model, purpose))
        if not self.policy.learn or window is None:
            return None
        return self._quantile(window[1])

    def _quantile(self, ordered: list[int]) -> int | None:
        if len(ordered) < self.policy.min_observations:
            return None
        return ordered[max(math.ceil(self.policy.quantile * len(ordered)) - 1, 0)]

    def cap(self, model: ModelProfile, purpose: str, limit: int) -> tuple[int, int]:
        """(cap, need): the cap to send when the budget allows it, and the least cap worth sending."""
        key = (model.name, purpose, limit, model.max_output_tokens)
        found = self._caps.get(key)
        if found is None:
            found = self._caps[key] = self._cap(model, purpose, limit)
        return found

    def _cap(self, model: ModelProfile, purpose: str, limit: int) -> tuple[int, int]:
        policy = self.policy
        floor = policy.min_tokens if purpose == "generate" else policy.min_judge_tokens
        limit = max(min(limit, model.max_output_tokens), 1)
        typical = self.typical(model.name, purpose)
        if typical is None:
            return limit, min(limit, floor)
        learned = max(math.ceil(typical * policy.headroom), floor)
        return min(limit, learned), min(limit, max(typical, 1))


def affordable_cap(model: ModelProfile, input_tokens: int, cap: int, need: int, budget: float | None) -> int | None:
    """The output cap to send: `cap`, or less when `budget` (dollars left for this call) cannot pay for it,
    as long as it stays at least `need`; None when the call does not fit.

    Exact: the budget (its decimal value, plus 1e-12 $ of tolerance) less the input's price, divided by
    the price of one output token, rounded down — in integer pico-dollars when the model's prices are
    whole pico-dollars per token, else in decimals."""
    if budget is None:
        return cap
    per_token = model._pico_prices() if model.priced else None
    if per_token is None:
        return _affordable_decimal(model, input_tokens, cap, need, budget)
    p_in, p_out, _ = per_token
    worst = input_tokens * p_in + cap * p_out
    if worst < 1e30 and budget * 1e12 - worst > _CLEAR * budget + 2.0:  # far from the edge: no exact arithmetic
        return cap
    # floor((B + 1e-12) * 1e12 - input * p_in) is `left` in pico-dollars, rounded down (p_in is an integer)
    left = _floor_pico(budget) + 1 - input_tokens * p_in
    if left < 0:
        return None
    if p_out == 0:
        return cap
    afford = left // p_out  # floor(left / p_out) == floor(exact left / p_out): p_out is a positive integer
    if afford >= cap:
        return cap
    return afford if afford >= need and afford >= 1 else None


_EXACT_DIGITS = 800
"""Decimal digits enough to hold the sum or difference of any two floats exactly (they span 10^-324 to 10^308)."""
_CLEAR = 1e3
"""Pico-dollars of margin per dollar of budget, far above the float arithmetic's error (a few 1e-16 of the budget,
under 1e-3 pico-dollars per dollar): a budget that clears the worst case by that much pays for the whole cap."""


def _floor_pico(amount: float) -> int:
    """The decimal value of `amount` (its shortest `repr`) in pico-dollars, rounded down."""
    pico = exact_pico(amount)
    if pico is not None:
        return pico
    return int(Decimal(repr(amount)).scaleb(12).to_integral_value(rounding=ROUND_FLOOR))


def _affordable_decimal(model: ModelProfile, input_tokens: int, cap: int, need: int, budget: float) -> int | None:
    """`affordable_cap` in decimals, for prices finer than a pico-dollar per token (with the digits to add any
    two floats exactly: 1e-12 to a budget of 1e-300 as well)."""
    with localcontext() as exact:
        exact.prec = _EXACT_DIGITS
        inp, out = Decimal(repr(model.input_cost_per_1k or 0.0)), Decimal(repr(model.output_cost_per_1k or 0.0))
        left = (Decimal(repr(budget)) + Decimal(repr(_EPS))) * 1000 - input_tokens * inp
        if left < 0:
            return None
        if out == 0:
            return cap
        afford = int((left / out).to_integral_value(rounding=ROUND_FLOOR))
    if afford >= cap:
        return cap
    return afford if afford >= need and afford >= 1 else None


async def reserve_waiting(
    reserve: Callable[[], Awaitable[bool]],
    store: Store,
    session_id: str,
    amount: float,
    *,
    limit: float,
    own: float,
    timeout: float,
) -> tuple[bool, float]:
    """Reserve `amount` against the session's budget with `reserve()`, waiting up to `timeout` seconds for
    its other runs to release what they hold when only their reservations are in the way (`own` is what
    this run holds itself). Returns (reserved, what the others held at the last look: 0 when what the session has
    spent leaves no room, so that their reservations are not what refused it)."""
    began = time.monotonic()
    deadline = began + timeout
    delay = 0.01
    held = 0.0
    waiting = False  # (said once it waits: a wait of up to 30 s showed nothing at all, as if the run hung)
    while True:
        if await reserve():
            if waiting:
                _say_wait_over(session_id, amount, began, reserved=True)
            return True, held
        session = await store.get_session(session_id)
        held = max(session.reserved_cost - own, 0.0)
        if session.total_cost + own + amount > limit + _EPS:  # spending alone leaves no room: waiting cannot help
            if waiting:
                _say_wait_over(session_id, amount, began, reserved=False)
            return False, 0.0  # (not "other runs … held $x for 30s": it waited for nothing, and they did not refuse it)
        now = time.monotonic()
        if now >= deadline:
            if waiting:
                _say_wait_over(session_id, amount, began, reserved=False)
            return False, held
        if not waiting:
            waiting = True
            _say_waiting(session_id, amount, held, limit, deadline - now)
        await asyncio.sleep(min(delay, deadline - now))
        delay = min(delay * 1.5, 0.25)


def _say_waiting(session_id: str, amount: float, held: float, limit: float, seconds: float) -> None:
    logger.info(
        "waiting up to %.3g s for other runs of session %s to release the $%.6f they hold: this call needs $%.6f of"
        " the session's $%.6f budget",
        seconds,
        session_id,
        held,
        amount,
        limit,
        extra={
            "session_id": session_id,
            "held_usd": held,
            "needed_usd": amount,
            "cost_limit_usd": limit,
            "wait_s": round(seconds, 3),
        },
    )


def _say_wait_over(session_id: str, amount: float, began: float, *, reserved: bool) -> None:
    waited = time.monotonic() - began
    logger.info(
        "after %.3g s of waiting, the $%.6f this call needs in session %s was %s",
        waited,
        amount,
        session_id,
        "reserved" if reserved else "not freed: the call is not made",
        extra={
            "session_id": session_id,
            "needed_usd": amount,
            "waited_s": round(waited, 3),
            "reserved": reserved,
        },
    )
