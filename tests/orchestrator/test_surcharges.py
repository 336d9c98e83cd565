"""What a model was billed above its catalog price is what its later reservations are multiplied by: the highest ratio
seen, never below 1 nor above `MAX_SURCHARGE`, and an output cap sized for a surcharged model keeps its surcharged worst
case within the budget it was sized for."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestratex import ModelProfile
from orchestratex.orchestrator._budget import affordable_cap
from orchestratex.orchestrator._ledger import EPS
from orchestratex.orchestrator._surcharges import FORGET_AFTER, MAX_SURCHARGE, Surcharges

prices = st.one_of(
    st.integers(0, 10**7).map(lambda n: n / 10**5),
    st.integers(1, 10**9).map(lambda n: n / 10**9),
    st.floats(1e-9, 1.0),
)


def test_the_highest_ratio_billed_is_kept_within_bounds() -> None:
    surcharges = Surcharges()
    surcharges.learn("m", 0.0005, 0.001)  # flex: half the catalog price never lowers a reservation
    surcharges.learn("m", 0.001 + 1e-12, 0.001)  # a pico-dollar of rounding is no surcharge
    assert (surcharges.ratios, surcharges.version, surcharges.worst("m", 0.01)) == ({}, 0, 0.01)
    surcharges.learn("m", 0.002, 0.001)
    surcharges.learn("m", 0.0011, 0.001)  # (a lower ratio than one seen is ignored)
    assert surcharges.version == 1 and 2 < surcharges.ratios["m"] < 2.000000002
    assert surcharges.worst("m", 0.01) == 0.02000000001  # (rounded up to the pico-dollar: a bound stays a bound)
    surcharges.learn("m", 1.0, 0.001)  # a catalog price a thousand times too low: the catalog is wrong, not a tier
    assert surcharges.ratios["m"] == MAX_SURCHARGE
    for catalog_cost in (None, 0.0, float("nan")):
        surcharges.learn("n", 0.01, catalog_cost)
    assert "n" not in surcharges.ratios


@given(
    input_price=prices,
    output_price=prices,
    ratio=st.floats(1.0001, 6.0),
    input_tokens=st.integers(0, 200_000),
    cap=st.integers(1, 100_000),
    share=st.floats(0.0, 6.0),
)
def test_a_cap_sized_for_a_surcharged_model_keeps_its_surcharged_worst_case_within_the_budget(
    input_price: float, output_price: float, ratio: float, input_tokens: int, cap: int, share: float
) -> None:
    model = ModelProfile(name="p:m", input_cost_per_1k=input_price, output_cost_per_1k=output_price)
    surcharges = Surcharges()
    surcharges.learn(model.name, 0.5 * ratio, 0.5)
    budget = model.worst_case_cost(input_tokens, cap) * share
    sent = affordable_cap(model, input_tokens, cap, 1, surcharges.budget(model.name, budget))
    if sent is not None:
        assert surcharges.worst(model.name, model.worst_case_cost(input_tokens, sent)) <= budget + EPS


def test_a_ratio_is_forgotten_after_bills_at_the_catalog_price_in_a_row_and_twice_as_many_the_next_time() -> None:
    surcharges = Surcharges()
    surcharges.billed("m", 0.002, 0.001)
    for _ in range(FORGET_AFTER - 1):
        surcharges.billed("m", 0.001, 0.001)
    surcharges.billed("m", 0.0015, 0.001)  # (billed above again: the bills in a row start again)
    assert surcharges.ratios["m"] > 2
    for _ in range(FORGET_AFTER - 1):
        surcharges.billed("m", 0.0005, 0.001)  # (flex: below the catalog price counts too)
    version = surcharges.version
    surcharges.billed("m", 0.001, 0.001)
    assert "m" not in surcharges.ratios and surcharges.version == version + 1
    assert surcharges.worst("m", 0.01) == 0.01
    surcharges.billed("m", 0.002, 0.001)  # (surcharged again: learnt again at once)
    for _ in range(2 * FORGET_AFTER - 1):
        surcharges.billed("m", 0.001, 0.001)
    assert "m" in surcharges.ratios
    surcharges.billed("m", 0.001, 0.001)
    assert "m" not in surcharges.ratios
    for name in ("m", "n"):
        surcharges.billed(name, 0.003, 0.001)
    surcharges.reset("m")
    assert surcharges.ratios.keys() == {"n"}
    surcharges.billed("m", 0.003, 0.001)
    for _ in range(FORGET_AFTER):  # (reset: forgotten after `FORGET_AFTER` again)
        surcharges.billed("m", 0.001, 0.001)
    assert surcharges.ratios.keys() == {"n"}
    surcharges.reset()
    assert surcharges.ratios == {} and surcharges.worst("n", 0.01) == 0.01


def test_the_surcharges_an_orchestrator_learnt_are_read_and_reset_not_assigned() -> None:
    from orchestratex import Orchestrator
    from orchestratex.exceptions import UnknownModelError, UserError

    orchestrator = Orchestrator(simulate=True)
    orchestrator._surcharges.billed("sim:gpt-5", 0.002, 0.001)
    seen = orchestrator.surcharges
    seen.clear()  # (a copy: what was learnt stays)
    assert orchestrator.surcharges.keys() == {"sim:gpt-5"}
    with pytest.raises(UserError, match=r"read-only .* reset_surcharges\(\)"):
        orchestrator.surcharges = {}  # type: ignore[misc]
    with pytest.raises(UnknownModelError):
        orchestrator.reset_surcharges("no-such-model")
    orchestrator.reset_surcharges("gpt-5")  # (an alias)
    assert orchestrator.surcharges == {}
    orchestrator.close()
