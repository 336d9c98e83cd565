"""The stores' shared money conversion: exactly the decimal rounding of an amount as written."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestratex.exceptions import UserError
from orchestratex.records import Session
from orchestratex.stores import MemoryStore, SQLiteStore
from orchestratex.stores.checks import MAX_AMOUNT, from_pico, to_pico

_amounts = st.one_of(
    st.integers(0, 10**18).map(lambda p: p / 10**12),  # whole pico-dollars (what the library produces)
    st.integers(0, 10**15).map(lambda p: math.nextafter(p / 10**12, math.inf)),  # a float beside one of them
    st.decimals(0, 5000, places=14, allow_nan=False).map(float),  # sub-pico digits and large amounts
    st.floats(0, MAX_AMOUNT, allow_nan=False),
    st.integers(0, int(MAX_AMOUNT)),
)


def _decimal_pico(amount: float | int) -> int:
    return int(Decimal(repr(amount)).scaleb(12).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@given(_amounts)
def test_to_pico_is_the_decimal_rounding_of_the_amount_as_written(amount: float | int) -> None:
    assert to_pico(amount) == _decimal_pico(amount)


def test_to_pico_cases() -> None:
    assert to_pico(2.9e-05) == 29_000_000  # not a whole number of pico-dollars in binary
    assert to_pico(1.5e-12) == 2  # half-even
    assert to_pico(2000.000000000001) == 2_000_000_000_000_001  # past the short path's range
    assert to_pico(Decimal("0.0000000000025")) == 2
    assert from_pico(to_pico(0.1)) == 0.1


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_a_negative_since_is_named_as_such(kind: str) -> None:
    """`list_events(since=-1)` said "limit and offset must be >= 0 (... offset=-1)": it has no offset."""
    store = MemoryStore() if kind == "memory" else SQLiteStore(":memory:")
    async with store:
        session = await store.create_session(Session(user_id="u"))
        with pytest.raises(UserError, match=r"since must be >= 0 \(got limit=1000, since=-1\)"):
            await store.list_events(session.id, since=-1)
        with pytest.raises(UserError, match=r"limit and offset must be >= 0"):  # (listings keep their word)
            await store.list_sessions("u", offset=-1)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@pytest.mark.parametrize("ttl", ["60", True, Decimal("60")])
async def test_a_ttl_that_is_not_a_number_of_seconds_is_refused_by_name(kind: str, ttl: object) -> None:
    # a str (a setting read from the environment) failed with "TypeError: '>' not supported between instances of
    # 'str' and 'int'" from `claim`, `renew_leases` and `incr`, a Decimal with a TypeError when the lease's expiry was
    # computed, and True was a lease of 1 s
    store = MemoryStore() if kind == "memory" else SQLiteStore(":memory:")
    async with store:
        with pytest.raises(UserError, match=r"^a counter ttl_s must be > 0 seconds, not "):
            await store.incr("k", 1, ttl_s=ttl)  # type: ignore[arg-type]
        for call in (store.claim("0" * 24, "me", ttl), store.renew_leases(["0" * 24], "me", ttl)):  # type: ignore[arg-type]
            with pytest.raises(UserError, match=r"^a lease ttl_s must be > 0 seconds, not "):
                await call
        assert await store.incr("k", 1) == 1  # nothing was counted by the refused call


def test_an_iteration_that_is_not_an_iteration_is_refused_with_a_user_error() -> None:
    # (a dict appended to `iterations` by hand: the check of its numbers raised a bare AttributeError)
    from orchestratex.records import Orchestration
    from orchestratex.stores.checks import check_orchestration

    run = Orchestration(thread_id="t" * 24, session_id="s" * 24, user_id="ada", prompt="p")
    run.iterations.append({"index": 1, "model_name": "m", "prompt": "p"})  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"iterations\[0\] must be an Iteration, not dict; nothing was stored$"):
        check_orchestration(run)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_numpy_amounts_are_counted_as_the_floats_they_are(kind: str) -> None:
    # a numpy float of more than 12 decimals (a sum of a dataframe's costs: np.float64(0.1) * 3 is 0.30000000000000004)
    # failed every store and `add_costs` with decimal's "InvalidOperation: [<class 'decimal.ConversionSyntax'>]", from
    # `Decimal(repr(amount))`: numpy 2 writes it np.float64(0.30000000000000004); so did a Fraction
    np = pytest.importorskip("numpy")
    from fractions import Fraction

    from orchestratex.records import Orchestration, SessionSettings, Thread
    from orchestratex.usage import add_costs

    amount = np.float64(0.1) * 3
    assert to_pico(amount) == to_pico(0.30000000000000004) == 300_000_000_000
    assert to_pico(np.float64(2000.123456789012345)) == to_pico(2000.123456789012345)
    assert to_pico(Fraction(1, 3)) == to_pico(1 / 3)  # type: ignore[arg-type]
    assert add_costs(amount, np.float64(1 / 3)) == add_costs(0.30000000000000004, 1 / 3)
    store = MemoryStore() if kind == "memory" else SQLiteStore(":memory:")
    async with store:
        session = await store.create_session(Session(user_id="u", settings=SessionSettings(cost_limit=1.0)))
        thread = await store.create_thread(Thread(session_id=session.id, user_id="u", original_prompt="Hi"))
        run = await store.create_orchestration(
            Orchestration(thread_id=thread.id, session_id=session.id, user_id="u", prompt="Hi")
        )
        assert await store.reserve_budget(session.id, run.id, np.float64(1 / 3))
        await store.commit(run, spent=amount, released=np.float64(1 / 3))
        stored = await store.get_session(session.id)
        assert (stored.total_cost, stored.reserved_cost) == (0.3, 0.0)
