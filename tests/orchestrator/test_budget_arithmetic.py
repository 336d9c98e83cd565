"""The budget arithmetic of one call in integers gives exactly what the decimal arithmetic it replaced gave:
the affordable output cap, and the learned quantile of output lengths over a sliding window."""

from __future__ import annotations

import math
from collections import deque
from decimal import ROUND_FLOOR, Decimal, localcontext

from hypothesis import given
from hypothesis import strategies as st

from orchestratex import ModelProfile, OutputCapPolicy
from orchestratex.orchestrator._budget import OutputLengths, _floor_pico, affordable_cap
from orchestratex.usage import from_pico

_EPS = 1e-12


def decimal_affordable_cap(model: ModelProfile, input_tokens: int, cap: int, need: int, budget: float) -> int | None:
    """`affordable_cap` as it was written in decimals (the specification the integer version must match), with
    digits enough for every float: 28 would round 1e-12 - 2.4e-107 up to 1e-12."""
    with localcontext() as exact:
        exact.prec = 800
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


# prices per 1,000 tokens as catalogs write them: a few decimals (whole pico-dollars per token), sometimes more
prices = st.one_of(
    st.integers(0, 10**7).map(lambda n: n / 10**5),
    st.integers(0, 10**9).map(lambda n: n / 10**9),
    st.floats(0, 100, allow_nan=False),
)
budgets = st.one_of(
    st.integers(-(10**6), 10**13).map(lambda n: n / 10**12),  # whole pico-dollars
    st.floats(-1, 1e7, allow_nan=False),  # float arithmetic's leftovers: 0.30000000000000004, 1e6 - 0.003, ...
    st.builds(lambda a, b: a - b, st.floats(0, 1e6), st.floats(0, 10)),
)


def test_affordable_cap_of_a_budget_below_a_pico_dollar() -> None:
    """Exact where 28 decimal digits were not: 1e-12 $ of tolerance less 2.4e-107 $ is under one pico-dollar."""
    model = ModelProfile(name="p:m", provider="p", input_cost_per_1k=0.0, output_cost_per_1k=1e-9)  # 1 pico a token
    assert affordable_cap(model, 0, 1, 1, -2.4155222987133094e-107) is None
    assert affordable_cap(model, 0, 1, 1, 0.0) == 1
    # half a pico-dollar a token (the decimal path): 1e-12 $ buys exactly two tokens, a hair less only one
    finer = ModelProfile(name="p:f", provider="p", input_cost_per_1k=0.0, output_cost_per_1k=5e-10)
    assert affordable_cap(finer, 0, 2, 1, 0.0) == 2
    assert affordable_cap(finer, 0, 2, 1, -2.4155222987133094e-107) == 1


@given(amount=st.one_of(budgets, st.floats(-1e20, 1e20, allow_nan=False), st.floats(-1e-3, 1e-3)))
def test_floor_pico_is_the_decimal_floor(amount: float) -> None:
    """Pico-dollars of the decimal an amount is written as, rounded down: parsed from its `repr`, as `Decimal` would."""
    assert _floor_pico(amount) == int(Decimal(repr(amount)).scaleb(12).to_integral_value(rounding=ROUND_FLOOR))


@given(
    inp=prices,
    out=prices,
    input_tokens=st.integers(0, 200_000),
    cap=st.integers(1, 100_000),
    need=st.integers(1, 100_000),
    budget=budgets,
)
def test_affordable_cap_equals_the_decimal_arithmetic(
    inp: float, out: float, input_tokens: int, cap: int, need: int, budget: float
) -> None:
    model = ModelProfile(name="p:m", provider="p", input_cost_per_1k=inp, output_cost_per_1k=out)
    need = min(need, cap)
    assert affordable_cap(model, input_tokens, cap, need, budget) == decimal_affordable_cap(
        model, input_tokens, cap, need, budget
    )


@given(
    inp=st.integers(0, 10**7).map(lambda n: n / 10**5),
    out=st.integers(1, 10**7).map(lambda n: n / 10**5),
    input_tokens=st.integers(0, 200_000),
    tokens=st.integers(0, 5000),
    off=st.integers(-3, 3),
    cap=st.integers(1, 5000),
)
def test_affordable_cap_on_the_tolerance_edge(
    inp: float, out: float, input_tokens: int, tokens: int, off: int, cap: int
) -> None:
    """Budgets within a few pico-dollars of paying for the input and exactly `tokens` output tokens."""
    model = ModelProfile(name="p:m", provider="p", input_cost_per_1k=inp, output_cost_per_1k=out)
    p_in, p_out = round(inp * 10**9), round(out * 10**9)
    budget = from_pico(input_tokens * p_in + tokens * p_out + off)
    assert affordable_cap(model, input_tokens, cap, 1, budget) == decimal_affordable_cap(
        model, input_tokens, cap, 1, budget
    )


@given(
    inp=prices,
    out=prices,
    input_tokens=st.integers(0, 200_000),
    cap=st.integers(1, 100_000),
    shift=st.floats(-1e-8, 1e-8),
)
def test_affordable_cap_where_its_shortcut_begins(
    inp: float, out: float, input_tokens: int, cap: int, shift: float
) -> None:
    """Budgets around the one above which the whole cap is affordable without exact arithmetic."""
    model = ModelProfile(name="p:m", provider="p", input_cost_per_1k=inp, output_cost_per_1k=out)
    worst = input_tokens * inp / 1000 + cap * out / 1000
    budget = worst * (1 + 1e-9 + shift)
    assert affordable_cap(model, input_tokens, cap, 1, budget) == decimal_affordable_cap(
        model, input_tokens, cap, 1, budget
    )


def test_affordable_cap_at_the_edge_of_the_budget() -> None:
    model = ModelProfile(name="p:m", provider="p", input_cost_per_1k=0.001, output_cost_per_1k=0.002)
    # 100 input tokens cost $0.0001; each output token $0.000002: $0.0003 buys exactly 100 of them
    assert affordable_cap(model, 100, 500, 50, 0.0003) == 100
    assert affordable_cap(model, 100, 500, 101, 0.0003) is None  # fewer than it needs
    assert affordable_cap(model, 100, 80, 50, 0.0003) == 80  # the cap is affordable
    assert affordable_cap(model, 100, 80, 50, 0.0001 - 2e-12) is None  # not even the input
    assert affordable_cap(model, 100, 80, 50, None) == 80


def sorted_quantile(seen: deque[int], policy: OutputCapPolicy) -> int | None:
    """The learned quantile as it was computed: sorting the window on every read."""
    if not policy.learn or len(seen) < policy.min_observations:
        return None
    ordered = sorted(seen)
    return ordered[max(math.ceil(policy.quantile * len(ordered)) - 1, 0)]


@given(
    lengths=st.lists(st.tuples(st.integers(0, 5000), st.booleans()), max_size=60),
    window=st.integers(1, 12),
    quantile=st.floats(0.01, 1.0),
)
def test_the_learned_quantile_follows_the_sliding_window(
    lengths: list[tuple[int, bool]], window: int, quantile: float
) -> None:
    policy = OutputCapPolicy(quantile=quantile, window=window, min_observations=min(3, window))
    learned = OutputLengths(policy)
    model = ModelProfile(name="p:m", provider="p", max_output_tokens=3000)
    seen: deque[int] = deque(maxlen=window)
    judged = learned.cap(model, "judge", 500)
    for tokens, cut in lengths:
        assert learned.cap(model, "generate", 2500) == learned.cap(model, "generate", 2500)  # (remembered)
        before, version = sorted_quantile(seen, policy), learned.version
        learned.observe("p:m", "generate", tokens, finish_reason="length" if cut else "stop", cap=400)
        seen.append(max(2 * 400 if cut and tokens >= 400 else tokens, 1))
        typical = sorted_quantile(seen, policy)
        assert learned.typical("p:m", "generate") == typical
        # what was remembered is forgotten when, and only when, a quantile moved
        assert (learned.version != version) == (typical != before)
        assert learned.cap(model, "judge", 500) == judged  # another purpose's window: unchanged
        # the cap read after an observation is the new one, not the one remembered before it
        if typical is None:
            assert learned.cap(model, "generate", 2500) == (2500, policy.min_tokens)
        else:
            grown = max(math.ceil(typical * policy.headroom), policy.min_tokens)
            assert learned.cap(model, "generate", 2500) == (min(2500, grown), min(2500, max(typical, 1)))
    assert learned.typical("p:m", "judge") is None
