"""Exact money arithmetic: integer pico-dollars inside give exactly what decimal arithmetic gives."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestratex import ModelProfile, Usage
from orchestratex.usage import PICO, add_costs, exact_pico, from_pico

_PLACES = Decimal("1e-12")


def _decimal_sum(*costs: float) -> float:
    return float(sum((Decimal(repr(c)) for c in costs), Decimal(0)).quantize(_PLACES))


_money = st.one_of(
    st.integers(-(10**15), 10**15).map(lambda p: p / PICO),  # whole pico-dollars (what the library produces)
    st.decimals(-5000, 5000, places=14, allow_nan=False).map(float),  # sub-pico digits and large amounts
    st.floats(-1e6, 1e6, allow_nan=False),
)


@given(st.lists(_money, max_size=6))
def test_add_costs_is_the_exact_decimal_sum(costs: list[float]) -> None:
    assert repr(add_costs(*costs)) == repr(_decimal_sum(*costs))


def test_add_costs_cases() -> None:
    assert add_costs() == 0.0
    assert add_costs(0.1, 0.2) == 0.3  # no binary drift
    assert add_costs(6e-13, 6e-13) == 1e-12  # rounded once, after the exact sum
    assert add_costs(1.5e-12, 1e-12) == 2e-12  # half-even: 2.5 pico-dollars are 2
    assert add_costs(2000.000000000001, 0.1) == 2000.100000000001  # past the integer fast path
    with pytest.raises(InvalidOperation):
        add_costs(float("inf"))


def test_exact_pico_round_trips() -> None:
    assert exact_pico(0.3) == 300_000_000_000
    assert exact_pico(1e-13) is None  # not a whole number of pico-dollars
    assert exact_pico(float("nan")) is None
    assert exact_pico(5000.0) is None  # past the fast path's range
    assert from_pico(300_000_000_000) == 0.3


_price = st.one_of(st.none(), st.decimals(0, 1, places=12, allow_nan=False).map(float))


@given(
    st.decimals(0, 1, places=12, allow_nan=False).map(float),
    st.decimals(0, 1, places=12, allow_nan=False).map(float),
    _price,
    st.integers(0, 2_000_000),
    st.integers(0, 2_000_000),
    st.integers(0, 200_000),
)
def test_catalog_costs_are_the_exact_decimal_costs(
    inp: float, out: float, cached: float | None, input_tokens: int, cached_tokens: int, output_tokens: int
) -> None:
    model = ModelProfile(name="x:y", input_cost_per_1k=inp, output_cost_per_1k=out, cached_input_cost_per_1k=cached)
    cached_tokens = min(cached_tokens, input_tokens)
    usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens, cached_input_tokens=cached_tokens)
    d_in, d_out = Decimal(repr(inp)), Decimal(repr(out))
    d_cached = d_in if cached is None else Decimal(repr(cached))
    exact = ((input_tokens - cached_tokens) * d_in + cached_tokens * d_cached + output_tokens * d_out) / 1000
    assert model.cost(usage) == float(exact.quantize(_PLACES))
    worst = (input_tokens * d_in + output_tokens * d_out) / 1000
    assert model.worst_case_cost(input_tokens, output_tokens) == float(worst.quantize(_PLACES))


def test_the_usage_of_a_runs_iterations_adds_up_with_sum() -> None:
    # `sum(it.usage for it in result.orchestration.iterations)` failed with "unsupported operand type(s) for +: 'int'
    # and 'Usage'" (`sum` starts from 0), so a notebook had to write `sum(..., Usage())`
    from orchestratex import BayesianRouter, Orchestrator, SimulatedProvider

    # (a seeded router: unseeded, about one run in 400 picked a model whose first answer scored 10, and the one
    # iteration failed `len(usages) >= 2`)
    orchestrator = Orchestrator(providers=[SimulatedProvider(latency_scale=0)], router=BayesianRouter(seed=0))
    result = orchestrator.run_sync("Explain recursion", max_iterations=3, evaluation_threshold=10)
    orchestrator.close()
    usages = [it.usage for it in result.orchestration.iterations]
    assert len(usages) >= 2
    total = sum(usages)
    assert isinstance(total, Usage)
    assert total == sum(usages, Usage())
    assert total.input_tokens == sum(u.input_tokens for u in usages) > 0
    assert sum([Usage(output_tokens=3)]) == Usage(output_tokens=3)
    with pytest.raises(TypeError, match=r"unsupported operand type\(s\) for \+: 'Usage' and 'int'"):
        Usage() + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        1 + Usage()
