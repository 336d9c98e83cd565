"""BayesianRouter: priors, learning, the cost knob, persistence, reasoning."""

from __future__ import annotations

import json

import pytest

from orchestratex import (
    BayesianRouter,
    FunctionProvider,
    GenerationRequest,
    MemoryStore,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
    RoutingFeedback,
    Task,
)
from orchestratex.domains import detect_domain

CATALOG = ModelCatalog(
    [
        ModelProfile(name="x:premium", cost_per_1k_tokens=0.03, quality=9.0, specialties=("coding",)),
        ModelProfile(name="x:mid", cost_per_1k_tokens=0.003, quality=8.0),
        ModelProfile(name="x:cheap", cost_per_1k_tokens=0.0003, quality=6.5),
    ]
)
MODELS = list(CATALOG)
TASK = Task(prompt="Write a parser", domain="coding", input_tokens=400)


async def test_cost_knob_moves_the_choice() -> None:
    pure_quality = await BayesianRouter(cost_sensitivity=0, explore=False).select(TASK, MODELS)
    frugal = await BayesianRouter(cost_sensitivity=5, explore=False).select(TASK, MODELS)
    assert pure_quality.model_name == "x:premium"
    assert frugal.model_name == "x:cheap"


async def test_observations_override_the_prior() -> None:
    router = BayesianRouter(cost_sensitivity=0, explore=False)
    for _ in range(20):
        router.update(RoutingFeedback(domain="coding", model_name="x:premium", score=4.0, cost=0.1, latency_ms=1))
        router.update(RoutingFeedback(domain="coding", model_name="x:mid", score=9.0, cost=0.01, latency_ms=1))
    decision = await router.select(TASK, MODELS)
    assert decision.model_name == "x:mid"
    assert "20 observed answers" in decision.reasoning
    # other domains keep their prior
    general = await router.select(Task(prompt="hi", domain="general", input_tokens=10), MODELS)
    assert general.model_name == "x:premium"


async def test_price_change_moves_the_choice_without_refitting() -> None:
    router = BayesianRouter(cost_sensitivity=2, explore=False)
    before = await router.select(TASK, MODELS)
    cheaper = [
        m.model_copy(update={"input_cost_per_1k": 0.00001, "output_cost_per_1k": 0.00001})
        if m.name == "x:premium"
        else m
        for m in MODELS
    ]
    after = await router.select(TASK, cheaper)
    assert before.model_name != "x:premium" and after.model_name == "x:premium"


async def test_statistics_persist_in_the_store() -> None:
    store = MemoryStore()
    first = BayesianRouter()
    await first.attach(store)
    await first.observe(
        RoutingFeedback(domain="math", model_name="x:mid", score=7.0, cost=0.01, latency_ms=5, output_tokens=100)
    )
    second = BayesianRouter()
    await second.attach(store)
    mean, _sd, n = second.posterior(CATALOG.get("x:mid"), "math")
    assert n == 1 and mean == pytest.approx((2 * 8.0 + 7.0) / 3)


async def test_exploration_tries_uncertain_models_sometimes() -> None:
    router = BayesianRouter(cost_sensitivity=0, explore=True, seed=3)
    picks = {(await router.select(TASK, MODELS)).model_name for _ in range(200)}
    assert {"x:premium", "x:mid"} <= picks


async def test_reasoning_is_one_sentence_naming_choice_and_runner_up() -> None:
    decision = await BayesianRouter(explore=False).select(TASK, MODELS)
    assert decision.reasoning.count(". ") == 0 and decision.reasoning.endswith(".")
    assert decision.model_name in decision.reasoning and "runner-up" in decision.reasoning
    assert set(decision.scores) == {m.name for m in MODELS}


def test_invalid_settings() -> None:
    with pytest.raises(ValueError, match="cost_sensitivity"):
        BayesianRouter(cost_sensitivity=-1)


@pytest.mark.parametrize(
    ("prompt", "domain"),
    [
        ("Write a Python function to calculate fibonacci numbers", "coding"),
        ("Solve the equation 3x + 5 = 20 and prove the result", "math"),
        ("Write a short story about a lighthouse keeper", "writing"),
        ("How does photosynthesis convert energy in plant cells?", "science"),
        ("Analyze the pros and cons of remote work for a business", "analysis"),
        ("Hello!", "general"),
    ],
)
def test_domain_detection(prompt: str, domain: str) -> None:
    assert detect_domain(prompt) == domain


def _local_and_paid() -> ModelCatalog:
    """A free local model, as docs/catalog.md declares one (price 0), beside a paid one far better in `coding`."""
    return ModelCatalog(
        [
            ModelProfile(name="function:local", input_cost_per_1k=0, output_cost_per_1k=0, quality=5.0),
            ModelProfile(name="function:paid", input_cost_per_1k=0.0025, output_cost_per_1k=0.01, quality=9.5),
        ]
    )


def test_a_free_model_counts_as_ten_times_cheaper_than_the_cheapest_priced_one() -> None:
    """Its cost was floored at $1e-9 a call: every priced model stood 6 orders of magnitude above it (6 score points at
    `cost_sensitivity=1`), so an orchestrator whose catalog held a free local model sent it every answer, the paid model
    4.5 points better never chosen; in a plan a paid model's value fell to about -20."""

    def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": 9, "feedback": "fine"})
        return f"an answer of {request.model.name}"

    orchestrator = Orchestrator(
        providers=[FunctionProvider(answer)], catalog=_local_and_paid(), router=BayesianRouter(explore=False)
    )
    with orchestrator:
        result = orchestrator.run_sync("Write a Python function to parse ISO dates", max_iterations=1)
    assert result.final_model == "function:paid"  # 9.5 − 1 point for a call 10× dearer than the free one > 5
    decision = BayesianRouter(explore=False).decide(
        Task(prompt="Write a parser", domain="coding", input_tokens=400, max_iterations=3), list(_local_and_paid())
    )
    assert min(decision.scores.values()) > -1  # (a plan's values are chances less dollars at the typical cost)
