"""The judging prices an orchestrator's runs share (`SharedPrices`): a run of a prompt priced before reads them, and
every change they depend on is honoured by the next run."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestratex import FunctionProvider, GenerationRequest, LLMJudgeEvaluator, ModelProfile
from orchestratex.orchestrator._judges import JudgePlanner
from orchestratex.usage import add_costs

from .test_judges import Recorder, model, orchestrator, planner_of

AUTHOR = "function:author"


def ranking_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the judge rankings (each judge's worst case for an answer cap) the runs compute."""
    calls: list[int] = []
    ranking = JudgePlanner._ranking

    def counted(self: JudgePlanner, *args: Any) -> list[tuple[float, str]]:
        calls.append(args[-1])
        return ranking(self, *args)

    monkeypatch.setattr(JudgePlanner, "_ranking", counted)
    return calls


async def test_a_run_of_a_prompt_priced_before_reads_its_judging_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder()
    orch = orchestrator(rec, model("author", 0.002, 8.0), model("cheap", 0.001), model("dear", 0.01))
    calls = ranking_calls(monkeypatch)
    first = await orch.run("Name three primes.", max_iterations=1, cost_limit=1.0)
    assert first.status == "completed" and calls
    calls.clear()
    again = await orch.run("Name three primes.", max_iterations=1, cost_limit=1.0)
    assert again.status == "completed" and calls == []  # priced by the first run
    assert again.orchestration.iterations[0].model_name == first.orchestration.iterations[0].model_name
    await orch.run("Name three even numbers.", max_iterations=1, cost_limit=1.0)
    assert calls  # another prompt: priced for it


def fresh_reserve(planner_like: JudgePlanner, cap: int) -> float | None:
    """What a run pricing its judging alone reserves (nothing shared, nothing remembered)."""
    alone = planner_of(planner_like.run.o, planner_like.run.doc.prompt)
    alone.run.judges = planner_like.run.judges
    alone.decision()
    alone.decided()  # (its tables let go: `_reserve_anew` prices anew)
    return alone._reserve_anew(AUTHOR, cap)


def test_shared_judging_prices_follow_every_change_they_depend_on() -> None:
    rec = Recorder()
    cheap, dear = model("cheap", 0.001), model("dear", 0.01)
    orch = orchestrator(rec, model("author", 0.002), cheap, dear, model("other", 0.005))

    def reserve(cap: int = 300, judges: list[str] | None = None) -> float | None:
        planner = planner_of(orch)  # a new run of the same prompt
        planner.run.judges = judges
        planner.decision()
        got = planner.reserve_for(AUTHOR, cap)
        assert got == fresh_reserve(planner, cap)
        return got

    def price(name: str, cap: int = 300) -> float:
        planner = planner_of(orch)
        judge = orch.catalog.get(name)
        return judge.worst_case_cost(planner._input_bound(judge, AUTHOR, cap), planner.judge_cap(judge))

    full = price("function:cheap")
    assert reserve() == full
    assert reserve() == full  # shared
    for _ in range(5):  # the judges' learned cap shrinks
        orch.output_lengths.observe("function:cheap", "judge", 40, finish_reason="stop", cap=512)
    learned = price("function:cheap")
    assert reserve() == learned < full
    orch.catalog.update("function:cheap", input_cost_per_1k=0.1, output_cost_per_1k=0.1)  # the dearest now
    assert reserve() == price("function:other")
    orch.catalog.update("function:cheap", input_cost_per_1k=0.001, output_cost_per_1k=0.001)
    assert reserve() == price("function:cheap")
    orch._surcharges.learn("function:cheap", 0.004, 0.001)  # billed 4x its catalog price: reserved so
    assert reserve() == orch._surcharges.worst("function:cheap", price("function:cheap")) > price("function:cheap")
    orch.reset_surcharges()
    assert reserve() == price("function:cheap")
    assert reserve(judges=["function:dear", "function:author"]) == price("function:dear")  # a session's judges
    assert reserve() == price("function:cheap")
    assert isinstance(orch.evaluator, LLMJudgeEvaluator)
    orch.evaluator.panel_size = 2  # a panel of two: the two cheapest
    assert reserve() == add_costs(price("function:cheap"), price("function:other"))
    orch.evaluator.panel_size = 1
    assert reserve() == learned
    orch.evaluator.max_output_tokens = 16  # the judges may write less
    assert reserve() == price("function:cheap") < learned
    orch.evaluator.max_output_tokens = 512
    orch.judge_max_output_tokens = 8
    assert reserve() == price("function:cheap") < learned
    orch.judge_max_output_tokens = 512
    assert reserve() == learned
    orch.evaluator.rubric = "Score it. " * 2000  # a longer rubric: judges read more (by the byte count)
    assert reserve() == price("function:cheap") > learned
    orch.evaluator = LLMJudgeEvaluator()
    assert reserve() == learned

    class Floored(FunctionProvider):
        def min_output_tokens(self, model: ModelProfile) -> int:
            return 900

    orch.providers = [Floored(rec.answer)]  # a provider replaced: its floor raises every judge's cap
    assert reserve() == price("function:cheap") == cheap.worst_case_cost(price_bound(orch, "function:cheap"), 900)
    assert (reserve() or 0.0) > learned
    for _ in range(5):
        orch.circuit.record_failure("function:cheap")  # its circuit open: not shared, not a judge
    planner = planner_of(orch)
    planner.decision()
    assert planner._reserves is None and planner.reserve_for(AUTHOR, 300) == price("function:other")
    orch.circuit.record_success("function:cheap")
    planner = planner_of(orch)
    planner.run.not_judging = frozenset({"function:cheap"})  # failed as a judge in this run: priced for the run alone
    planner.decision()
    assert planner._reserves is None and planner.reserve_for(AUTHOR, 300) == price("function:other")
    assert reserve() == price("function:cheap")  # the other runs still share theirs
    orch.catalog.set_status("function:cheap", "disabled")
    assert reserve() == price("function:other")
    orch.catalog.set_status("function:dear", "disabled")
    orch.catalog.set_status("function:other", "disabled")
    assert reserve() is None  # nobody is left to judge


def price_bound(orch: Any, name: str, cap: int = 300) -> int:
    planner = planner_of(orch)
    return planner._input_bound(orch.catalog.get(name), AUTHOR, cap)


def test_runs_of_other_prompts_contexts_or_domains_are_priced_for_theirs() -> None:
    rec = Recorder()
    orch = orchestrator(rec, model("author", 0.002), model("cheap", 0.001), model("dear", 0.01))
    prices = {}
    for prompt, context, domain in [
        ("Name three primes.", None, "general"),
        ("Name three primes, with a proof that there are infinitely many.", None, "general"),
        ("Name three primes.", "The reader is ten years old. " * 40, "general"),
        ("Name three primes.", None, "math"),
    ]:
        planner = planner_of(orch, prompt)
        planner.run.doc.context, planner.run.doc.domain = context, domain
        planner.decision()
        prices[prompt, context, domain] = got = planner.reserve_for(AUTHOR, 300)
        assert got == fresh_reserve(planner, 300) or context is not None
        if context is not None:  # (`fresh_reserve` plans the bare prompt: compare with a planner of its own)
            alone = planner_of(orch, prompt)
            alone.run.doc.context = context
            alone.decision()
            alone.decided()
            assert got == alone._reserve_anew(AUTHOR, 300)
    assert len(set(prices.values())) == 3  # the domain changes no byte of the judges' requests


async def test_a_price_raised_between_two_runs_of_one_prompt_is_reserved_by_the_second() -> None:
    """A run of a prompt priced before is refused when the judge's price has risen past its budget since (a stale
    price would have let it answer, and its judging then cost more than the budget kept for it)."""

    def answer(request: GenerationRequest) -> str:
        return json.dumps({"score": 9.0, "feedback": "ok"}) if request.purpose == "judge" else "7"

    catalog_models = [model("author", 0.001, 9.0), model("judge", 0.001, judge_only=True)]
    orch = orchestrator(Recorder(), *catalog_models)
    orch.providers = [FunctionProvider(answer)]
    first = await orch.run("What is 3 + 4?", max_iterations=1, cost_limit=0.01)
    assert first.status == "completed"
    orch.catalog.update("function:judge", input_cost_per_1k=1.0, output_cost_per_1k=1.0)
    second = await orch.run("What is 3 + 4?", max_iterations=1, cost_limit=0.01)
    assert second.status == "failed" and second.orchestration.stop_reason == "budget"
    assert "with judging" in (second.orchestration.error or "") and second.total_cost == 0


class Learning(FunctionProvider):
    """A provider that learns a model's least output cap as it runs (OpenAI's adapter does, from a refusal)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.least: dict[str, int] = {}

    def min_output_tokens(self, model: ModelProfile) -> int:
        return self.least.get(model.name, 1)


def test_what_a_provider_learns_or_is_given_between_runs_is_priced_by_the_next_run() -> None:
    rec = Recorder()
    cheap = model("cheap", 0.001)
    orch = orchestrator(rec, model("author", 0.002), cheap, model("dear", 0.01))
    provider = Learning(rec.answer)
    orch.providers = [provider]

    def reserve() -> float | None:
        planner = planner_of(orch)
        planner.decision()
        got = planner.reserve_for(AUTHOR, 300)
        assert got == fresh_reserve(planner, 300)
        return got

    before = reserve()
    assert reserve() == before  # shared
    provider.least["function:cheap"] = 900  # learnt from a refusal: every request to it asks at least 900 tokens
    assert (reserve() or 0.0) > (before or 0.0)
    provider.least.clear()
    assert reserve() == before
    provider.count_tokens = lambda request: 40 * sum(len(m.content) for m in request.messages)  # a tokenizer given
    counted = reserve()
    assert (counted or 0.0) > (before or 0.0)
    assert reserve() == counted
    provider.count_tokens = None
    assert reserve() == before
