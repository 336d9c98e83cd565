"""Router knobs are checked when set after construction too (as benchmarks set `router.cost_weight`), same message."""

from __future__ import annotations

import re
from typing import Any

import pytest

from orchestratex import BayesianRouter
from orchestratex.exceptions import UserError
from orchestratex.routing.contextual import ContextualRouter
from orchestratex.routing.fitted import FittedRouter

NAN = float("nan")

BAD_KNOBS: list[tuple[type[Any], str, Any, str]] = [
    (FittedRouter, "cost_weight", NAN, "cost_weight must be a finite number >= 0"),
    (FittedRouter, "cost_weight", -1.0, "cost_weight must be a finite number >= 0"),
    (FittedRouter, "target_quality", 7.0, "target_quality is on the 0–1 scale: between 0 and 1"),
    (FittedRouter, "alpha", 0.0, "alpha must be a finite number > 0"),
    (FittedRouter, "horizon", 0, "horizon is a whole number of attempts >= 1"),
    (FittedRouter, "judge_error", 0.7, "judge_error is the chance a verdict is wrong"),
    (FittedRouter, "retry_prior", NAN, "retry_prior must be a finite number > 0"),
    (ContextualRouter, "cost_weight", NAN, "cost_weight must be a finite number >= 0"),
    (ContextualRouter, "prior_mean", 5.0, "prior_mean is on the 0–1 scale"),
    (ContextualRouter, "score_sd", 0.0, "score_sd must be a finite number > 0"),
    (ContextualRouter, "explore_share", NAN, "explore_share is the share of spend on exploring: between 0 and 1"),
    (ContextualRouter, "horizon", 1.5, "horizon is a whole number of attempts >= 1"),
    (BayesianRouter, "cost_sensitivity", NAN, "cost_sensitivity must be a finite number >= 0"),
    (BayesianRouter, "prior_strength", -2.0, "prior_strength must be a finite number > 0"),
    (BayesianRouter, "horizon", 0, "horizon is a whole number of attempts >= 1"),
    # Unchecked before: a NaN or negative bonus, a negative or fractional min_tries, a judge_error given as text
    # (a TypeError from the comparison) broke routing later or failed with Python's message.
    (BayesianRouter, "specialty_bonus", NAN, "specialty_bonus must be a finite number >= 0"),
    (BayesianRouter, "specialty_bonus", "0.5", "specialty_bonus must be a finite number >= 0"),
    (ContextualRouter, "min_tries", -1, "min_tries is a whole number of tries of each model"),
    (ContextualRouter, "min_tries", 2.5, "min_tries is a whole number of tries of each model"),
    (FittedRouter, "judge_error", "0.1", "judge_error is the chance a verdict is wrong: between 0 and 0.5; got '0.1'"),
    # Unchecked before: "no" read as True, and a FittedRouter with text="no" or cascade=0 saved a file it refused
    # to load ("its metadata has no valid 'text'").
    (FittedRouter, "text", "no", "text is True or False (False: the domain means alone); got 'no'"),
    (FittedRouter, "cascade", 0, "cascade is True or False (False: one model at a time, no plan); got 0"),
    (ContextualRouter, "explore", "no", "explore is True or False"),
    (ContextualRouter, "cascade", None, "cascade is True or False"),
    (BayesianRouter, "explore", 1, "explore is True or False"),
    (BayesianRouter, "cascade", "False", "cascade is True or False"),
]


@pytest.mark.parametrize(("cls", "knob", "value", "message"), BAD_KNOBS)
def test_a_bad_knob_is_refused_when_set_after_construction_as_by_the_constructor(
    cls: type[Any], knob: str, value: Any, message: str
) -> None:
    with pytest.raises(UserError, match=re.escape(message)):
        cls(**{knob: value})
    router = cls()
    before = getattr(router, knob)
    with pytest.raises(UserError, match=re.escape(message)):
        setattr(router, knob, value)
    assert getattr(router, knob) == before  # the router keeps its last good value


@pytest.mark.parametrize(
    ("router", "knob", "value"),
    [
        (FittedRouter(), "cost_weight", 5),
        (FittedRouter(target_quality=0.8), "target_quality", None),
        (ContextualRouter(), "cost_weight", 13.7),
        (BayesianRouter(), "cost_sensitivity", 2.0),
    ],
)
def test_a_good_knob_set_later_is_kept_and_read_as_a_plain_attribute(router: Any, knob: str, value: Any) -> None:
    setattr(router, knob, value)
    assert getattr(router, knob) == value
    assert vars(router)[knob] == value
    assert not hasattr(type(router).__dict__[knob], "__get__")  # reads find the instance's value, no call


@pytest.mark.parametrize("router", [BayesianRouter, ContextualRouter])
def test_a_numpy_seed_seeds_the_router_as_its_int_does(router: type[Any]) -> None:
    """Before: `BayesianRouter(seed=np.int64(3))` (a study's `for seed in np.arange(5)`) failed with Python's
    "TypeError: The only supported seed types are: None, int, float, str, bytes, and bytearray."."""
    np = pytest.importorskip("numpy")
    from orchestratex.catalog import ModelProfile
    from orchestratex.routing import Task

    models = [ModelProfile(name=f"sim:m{i}", input_cost_per_1k=0.001, output_cost_per_1k=0.002) for i in range(4)]
    picks = []
    for seed in (np.int64(3), 3):
        r = router(seed=seed, cascade=False)
        picks.append([r.decide(Task(prompt=f"question {i}"), models).model_name for i in range(20)])
    assert picks[0] == picks[1]
    with pytest.raises(UserError, match=r"seed is a whole number \(or None: unseeded\), e.g. seed=7; got \[3\]"):
        router(seed=[3])


@pytest.mark.parametrize("router", [BayesianRouter, ContextualRouter])
async def test_a_router_name_that_is_not_text_is_refused_when_made(router: type[Any], tmp_path: Any) -> None:
    """Before: `BayesianRouter(name=["eu"])` was taken, and the first run on a SQLite store was stored, then failed
    with "StoreError: SQLite error: Error binding parameter 1: type 'list' is not supported"; `name=5` was stored as
    the number 5."""
    from orchestratex import Orchestrator, SimulatedProvider

    for bad in (["eu"], 5, b"eu"):
        with pytest.raises(UserError, match=r"^name is the router's name in the store, a string \(e\.g\. name="):
            router(name=bad)
    named = router(name="eu", seed=1)
    async with Orchestrator(
        providers=[SimulatedProvider(latency_scale=0)], router=named, store=f"sqlite:///{tmp_path / 'runs.db'}"
    ) as orchestrator:
        result = await orchestrator.run("What is 2 + 2?", max_iterations=1)
        assert result.orchestration.status == "completed"
        assert await orchestrator.store.routing_stats("eu")
    assert router(name=None).name == router(name="").name == router.name  # (the default name, as before)
