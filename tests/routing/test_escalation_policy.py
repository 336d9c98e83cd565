"""The escalation policy: routers plan the cascade from the attempts so far, and never re-ask a rejected model
unless retries have been seen to pay."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import numpy as np
import pytest

from orchestratex.catalog import ModelProfile
from orchestratex.lab import OutcomeTable
from orchestratex.routing import Attempt, BayesianRouter, RoutingFeedback, Task
from orchestratex.routing._cascade import plan
from orchestratex.routing.contextual import ContextualRouter
from orchestratex.routing.fitted import FittedRouter

MODELS = ("a", "b", "c", "strong")
PROFILES = [
    ModelProfile(name="t:a", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001),
    ModelProfile(name="t:b", input_cost_per_1k=0.0002, output_cost_per_1k=0.0002),
    ModelProfile(name="t:c", input_cost_per_1k=0.0004, output_cost_per_1k=0.0004),
    ModelProfile(name="t:strong", input_cost_per_1k=0.01, output_cost_per_1k=0.01),
]
PROMPT = "Which option is right?"


def correlated_table(n: int = 400, seed: int = 0) -> OutcomeTable:
    """`a` right 70 %; `b` right about 66 % but wrong whenever `a` is (they fail together); `c` right about
    44 %, and always right where `a` is wrong; `strong` right 90 % at 50× the price of `a`."""
    rng = np.random.default_rng(seed)
    a = rng.random(n) < 0.7
    b = a & (rng.random(n) < 0.95)
    c = ~a | (rng.random(n) < 0.2)
    strong = rng.random(n) < 0.9
    quality = np.stack([a, b, c, strong], axis=1).astype(float)
    cost = np.tile([0.0001, 0.0002, 0.0004, 0.005], (n, 1))
    return OutcomeTable(
        name="correlated", models=MODELS, prompts=tuple(PROMPT for _ in range(n)), quality=quality, cost=cost
    )


@pytest.fixture(scope="module")
def router() -> FittedRouter:
    return FittedRouter(cost_weight=20.0, text=False).fit(correlated_table(), profiles=PROFILES)


def task(*attempts: Attempt, max_iterations: int = 3) -> Task:
    return Task(
        prompt=PROMPT,
        original_prompt=PROMPT,
        iteration=len(attempts) + 1,
        attempts=attempts,
        max_iterations=max_iterations,
        threshold=6.0,
    )


def test_a_cascade_starts_cheap_and_escalates_where_a_failure_is_least_likely_to_repeat(router: FittedRouter) -> None:
    first = router.decide(task(), PROFILES)
    assert first.model_name == "t:a"
    assert "plans t:a → t:c" in first.reasoning
    after_a = router.decide(task(Attempt("t:a", 3.0, 0.0001, "wrong")), PROFILES)
    # b is better than c on average, but it fails exactly where a fails: c is the rescue
    assert after_a.model_name == "t:c"
    # the run's name of the rejected model, as the online routers say it (before: the table's, "after a scored below")
    assert "after t:a scored below the threshold" in after_a.reasoning
    both = router.decide(task(Attempt("t:a", 3.0), Attempt("t:c", 3.0)), PROFILES)
    assert both.model_name == "t:strong"


def test_one_iteration_keeps_the_single_shot_rule(router: FittedRouter) -> None:
    single = FittedRouter(cost_weight=20.0, text=False, cascade=False).fit(correlated_table(), profiles=PROFILES)
    alone = task(max_iterations=1)
    assert router.decide(alone, PROFILES).model_name == single.decide(alone, PROFILES).model_name


def test_a_rejected_model_is_not_asked_again_unless_retries_paid() -> None:
    router = FittedRouter(cost_weight=1000.0, text=False).fit(correlated_table(), profiles=PROFILES)
    # dollars dear: after a failed, the cheapest move would be a again, but its answer was rejected
    rejected = task(Attempt("t:a", 3.0))
    assert router.decide(rejected, PROFILES).model_name != "t:a"
    assert router.retry_success("t:a", "general") == 0.0
    # retries of a are seen to succeed (the judges' feedback fixes its answers): now it pays to re-ask
    for _ in range(20):
        feedback = RoutingFeedback(
            domain="general",
            model_name="t:a",
            score=9.0,
            cost=0.0001,
            latency_ms=1,
            attempts=(Attempt("t:a", 3.0),),
            threshold=6.0,
        )
        asyncio.run(router.observe(feedback))
    assert router.retry_success("t:a", "general") > 0.9
    assert router.decide(rejected, PROFILES).model_name == "t:a"


def test_only_rejected_candidates_left_still_gives_an_answer(router: FittedRouter) -> None:
    decision = router.decide(task(Attempt("t:a", 3.0)), PROFILES[:1])
    assert decision.model_name == "t:a"


async def test_online_routers_learn_which_model_rescues_which_failure() -> None:
    for router in (BayesianRouter(explore=False, cost_sensitivity=0.2), ContextualRouter(explore=False)):
        # a answers well on the whole; after a fails, only c was ever accepted
        for _ in range(30):
            for model, score, before in (("t:a", 9.0, ()), ("t:b", 3.0, (Attempt("t:a", 3.0),))):
                fb = RoutingFeedback(
                    domain="general",
                    model_name=model,
                    score=score,
                    cost=0.0001,
                    latency_ms=1,
                    attempts=before,
                    threshold=6.0,
                    evaluation_cost=0.00001,
                )
                router.update(fb)
                router.memory.learn(fb)
            fb = RoutingFeedback(
                domain="general",
                model_name="t:c",
                score=9.0,
                cost=0.0004,
                latency_ms=1,
                attempts=(Attempt("t:a", 3.0),),
                threshold=6.0,
            )
            router.update(fb)
            router.memory.learn(fb)
        after = await router.select(task(Attempt("t:a", 3.0, 0.0001)), PROFILES)
        assert after.model_name == "t:c", (router.name, after.reasoning)
        assert "plans" in after.reasoning and "after t:a scored below the threshold" in after.reasoning
        # t:a, rejected and not worth asking again, was not weighed: it has no score (not a -1e9 placeholder)
        assert "t:a" not in after.scores and after.model_name in after.scores, after.scores
        assert router.memory.judging_cost > 0


async def test_online_escalation_statistics_persist() -> None:
    from orchestratex.stores import MemoryStore

    store = MemoryStore()
    first = BayesianRouter(explore=False)
    await first.attach(store)
    fb = RoutingFeedback(
        domain="math",
        model_name="t:c",
        score=9.0,
        cost=0.0004,
        latency_ms=1,
        attempts=(Attempt("t:a", 3.0),),
        threshold=6.0,
        evaluation_cost=0.0002,
    )
    await first.observe(fb)
    second = BayesianRouter(explore=False)
    await second.attach(store)
    assert second.memory.pairs[("math", "t:a", "t:c")] == [1, 1]
    assert second.memory.judging_cost == pytest.approx(0.0002)


def test_plan_respects_the_budget_and_the_horizon() -> None:
    def beliefs(rejected: frozenset[int]) -> tuple[list[float], list[float]]:
        p = [0.0 if j in rejected else q for j, q in enumerate((0.5, 0.99))]
        return p, p

    free = plan(beliefs, [0.001, 0.1], steps=3, cost_weight=1.0)
    assert free.order[0] == 0 and free.order[1] == 1  # cheap first, the sure one as a rescue
    poor = plan(beliefs, [0.001, 0.1], steps=3, cost_weight=1.0, budget=0.05)
    assert poor.order == (0,)
    assert plan(beliefs, [0.001, 0.1], steps=5, horizon=1).order == (1,)
    with pytest.raises(ValueError):
        plan(beliefs, [], steps=1)


def test_routing_does_not_import_the_lab() -> None:
    code = (
        "import sys, orchestratex, orchestratex.routing, orchestratex.routing.fitted, "
        "orchestratex.routing.contextual, orchestratex.orchestrator\n"
        "bad = sorted(m for m in sys.modules if m.startswith('orchestratex.lab'))\n"
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


async def test_a_router_fitted_on_judge_scores_plans_with_the_runs_threshold() -> None:
    """A table of judge scores (1–10, as `lab.load_history` gives): `a` always scores 7, `b` 9 at ten times the
    price. The router took a 7 as a 70 % chance of a right answer whatever the threshold, so with threshold 8 it
    planned "a → b (P(accepted right answer) 0.97)" and every run paid for an answer of `a` the judges always
    reject before asking `b`. An answer is now right when its score reaches the run's threshold."""
    import json

    from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, Orchestrator

    n = 50
    table = OutcomeTable(
        name="history",
        models=("t:a", "t:b"),
        prompts=tuple(f"question {i}" for i in range(n)),
        quality=np.tile([7.0, 9.0], (n, 1)),
        cost=np.tile([0.0001, 0.001], (n, 1)),
    )
    profiles = [
        ModelProfile(name="t:a", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001),
        ModelProfile(name="t:b", input_cost_per_1k=0.001, output_cost_per_1k=0.001),
    ]
    router = FittedRouter(cost_weight=50, text=False).fit(table, profiles=profiles)
    low = router.decide(Task(prompt=PROMPT, threshold=6, max_iterations=2), profiles)
    assert low.model_name == "t:a", low.reasoning  # at 6 the cheap model's 7 is accepted
    high = router.decide(Task(prompt=PROMPT, threshold=8, max_iterations=2), profiles)
    assert high.model_name == "t:b", high.reasoning

    async def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            author = "t:a" if "answer of a" in request.messages[-1].content else "t:b"
            return json.dumps({"score": 7 if author == "t:a" else 9, "feedback": "ok"})
        return f"The answer of {request.model.name.split(':')[1]}."

    judge = ModelProfile(name="t:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, judge_only=True)
    catalog = ModelCatalog([*profiles, judge])
    async with Orchestrator(
        providers=[FunctionProvider(fn, name="t")], catalog=catalog, router=router, evaluation_threshold=8
    ) as orchestrator:
        result = await orchestrator.run(PROMPT, max_iterations=2)
    assert [it.model_name for it in result.orchestration.iterations] == ["t:b"]
    assert result.stop_reason == "threshold"


@pytest.mark.parametrize("kind", ["fitted-w0", "fitted-w20", "bayesian", "contextual"])
async def test_when_every_candidate_was_rejected_the_best_of_them_is_asked_again(kind: str) -> None:
    """docs/routing.md: "When every candidate was rejected, the best of them is asked again". Before, every retry
    believed as hopeless as the next, the third attempt of a two-model run went to the first model of the catalog
    (or, with a cost knob, the cheapest): the one whose answer had scored 2, not the one that scored 5."""
    import json
    from collections.abc import Callable

    from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, Orchestrator
    from orchestratex.routing import Router

    def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":  # both answers rejected at 6; `good`'s nearer
            good = "by function:good" in request.messages[-1].content
            return json.dumps({"score": 5 if good else 2, "feedback": "not yet"})
        return f"an answer by {request.model.name}"

    catalog = ModelCatalog(  # the worse model first in the catalog, and the cheaper
        [
            ModelProfile(name="function:poor", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=7.0),
            ModelProfile(name="function:good", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=7.0),
            ModelProfile(name="function:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, judge_only=True),
        ]
    )
    table = OutcomeTable(
        name="two",
        models=("poor", "good"),
        prompts=tuple(f"question {i}" for i in range(40)),
        quality=np.tile([0.6, 0.6], (40, 1)),
        cost=np.tile([0.0001, 0.001], (40, 1)),
    )
    routers: dict[str, Callable[[], Router]] = {
        "fitted-w0": lambda: FittedRouter(text=False).fit(table),
        "fitted-w20": lambda: FittedRouter(cost_weight=20.0, text=False).fit(table),
        "bayesian": lambda: BayesianRouter(explore=False),
        "contextual": lambda: ContextualRouter(explore=False, cost_weight=20.0),
    }
    async with Orchestrator(
        catalog=catalog, providers=[FunctionProvider(answer)], router=routers[kind](), evaluation_threshold=6.0
    ) as orchestrator:
        result = await orchestrator.run("Which option is right?", max_iterations=3)
    answered = [it.model_name for it in result.orchestration.iterations]
    assert sorted(answered[:2]) == ["function:good", "function:poor"], answered
    assert answered[2] == "function:good", answered


@pytest.mark.parametrize("router", [ContextualRouter(explore=False), BayesianRouter(cost_sensitivity=0, explore=False)])
def test_a_plan_never_re_asks_the_model_it_just_planned(router: ContextualRouter | BayesianRouter) -> None:
    """At cost weight 0 a retry never seen to pay is worth nothing and costs nothing in a plan's value, so of equal
    plans the first (the lowest index) planned it: "plans t:cheap → t:cheap → t:dear", its spend counted, and a fresh
    ContextualRouter (every model believed alike) took the dearer of two models for the first answer, its plan
    looking cheaper for not re-asking itself."""
    import json

    from orchestratex import Event, FunctionProvider, GenerationRequest, ModelCatalog, Orchestrator

    cheap = ModelProfile(name="function:cheap", input_cost_per_1k=0.001, output_cost_per_1k=0.003, quality=8)
    dear = ModelProfile(name="function:dear", input_cost_per_1k=0.01, output_cost_per_1k=0.03, quality=8)

    def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": 9, "feedback": "fine"})
        return "an answer"

    chosen: list[tuple[str, str]] = []

    def selected(event: Event) -> None:
        if event.type == "model_selected":
            chosen.append((event.model_name, event.reasoning))

    with Orchestrator(providers=[FunctionProvider(answer)], catalog=ModelCatalog([cheap, dear]), router=router) as orch:
        orch.run_sync("Say something true.", max_iterations=3, on_event=selected)
    assert chosen[0][0] == "function:cheap"
    assert "plans function:cheap → function:dear (" in chosen[0][1]
