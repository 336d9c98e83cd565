"""Judges as a budgeted choice: the judge set, judge-only models, windows and budget checked before
the paid answer, the cheapest adequate panel, skipping a verdict nothing depends on, calibration."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestratex import (
    BayesianRouter,
    EvaluationTask,
    FunctionProvider,
    Generation,
    GenerationRequest,
    IsotonicCalibration,
    LLMJudgeEvaluator,
    Message,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
)
from orchestratex.exceptions import UnknownModelError, UserError
from orchestratex.orchestrator._judges import JudgePlanner, answer_room
from orchestratex.orchestrator._run import Run
from orchestratex.providers import estimate_input_tokens
from orchestratex.records import Orchestration
from orchestratex.usage import Usage, add_costs

from ..helpers import NO_WAIT


def model(name: str, price: float, quality: float = 7.0, **extra: Any) -> ModelProfile:
    return ModelProfile(
        name=f"function:{name}",
        input_cost_per_1k=price,
        output_cost_per_1k=price,
        quality=quality,
        context_window=extra.pop("window", 100_000),
        max_output_tokens=1000,
        **extra,
    )


class Recorder:
    def __init__(self, score: float = 9.0) -> None:
        self.calls: list[tuple[str, str]] = []
        self.score = score
        self.provider = FunctionProvider(self.answer)

    def answer(self, request: GenerationRequest) -> str:
        self.calls.append((request.model.name, request.purpose))
        if request.purpose == "judge":
            return json.dumps({"score": self.score, "feedback": "ok"})
        return "a short answer"

    def by(self, purpose: str) -> Counter[str]:
        return Counter(name for name, p in self.calls if p == purpose)


def orchestrator(rec: Recorder, *models: ModelProfile, **kwargs: object) -> Orchestrator:
    kwargs.setdefault("router", BayesianRouter(explore=False))
    return Orchestrator(
        providers=[rec.provider],
        catalog=ModelCatalog(models),
        retry=NO_WAIT,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_judge_set_per_orchestrator_and_per_session_never_the_author() -> None:
    rec = Recorder()
    orch = orchestrator(rec, model("a", 0.001, 9), model("b", 0.001), model("c", 0.001), judges=["b", "a"])
    await orch.run("Hello there")
    assert set(rec.by("judge")) <= {"function:a", "function:b"}
    assert all(j != g for (g, _), (j, _) in zip(rec.calls[::2], rec.calls[1::2], strict=True))
    session = await orch.create_session(judges=["function:c"])
    rec.calls.clear()
    await orch.run("Hello again", session=session)
    assert set(rec.by("judge")) == {"function:c"}
    with pytest.raises(UnknownModelError):
        orchestrator(rec, model("a", 0.001), judges=["nope"])
    with pytest.raises(UserError, match="judges must be a non-empty list"):
        orchestrator(rec, model("a", 0.001), judges="a")


async def test_a_judge_only_model_is_never_a_routing_candidate() -> None:
    rec = Recorder()
    orch = orchestrator(rec, model("best", 0.00001, 9.9, judge_only=True), model("a", 0.001), model("b", 0.002))
    for i in range(5):
        await orch.run(f"Prompt {i}")
    assert "function:best" not in rec.by("generate")
    assert rec.by("judge")["function:best"] == 5


async def test_a_prompt_no_judge_can_read_is_not_answered() -> None:
    rec = Recorder()
    big = model("big", 0.0001, window=1_000_000)
    orch = orchestrator(rec, big, model("small", 0.0001, window=100_000))
    result = await orch.run("x" * 540_000, cost_limit=10.0)
    assert result.status == "failed" and "no judge can read this prompt" in (result.orchestration.error or "")
    assert rec.calls == [] and result.total_cost == 0  # nothing paid for
    rec2 = Recorder()
    orch2 = orchestrator(rec2, big, model("small", 0.0001, window=100_000), model("big2", 0.0002, window=1_000_000))
    result2 = await orch2.run("x" * 540_000)
    assert result2.status == "completed"
    assert {n for n, _ in rec2.calls} == {"function:big", "function:big2"}


async def test_the_cheapest_adequate_panel_judges() -> None:
    rec = Recorder()
    orch = orchestrator(
        rec,
        model("gen", 0.001, 8.0),
        model("cheap", 0.0001, 7.8),
        model("pricey", 0.05, 9.5),
        model("weak", 0.00001, 5.0),
        evaluator=LLMJudgeEvaluator(panel_size=1),
        router=BayesianRouter(explore=False, cost_sensitivity=0),
    )
    result = await orch.run("Explain recursion", evaluation_threshold=5, preferred_models=["gen"])
    assert rec.by("judge") == Counter({"function:cheap": 1})
    it = result.orchestration.iterations[0]
    assert it.evaluation is not None and it.evaluation.cost < it.cost


async def test_pinned_judges_beyond_the_panel_are_chosen_as_any_judges_are_not_by_catalog_order() -> None:
    """Three judges pinned for a panel of one: the first of them in catalog order judged (the dearest here, priced at
    50 times the cheapest adequate one), where an unpinned panel is the cheapest adequate one. Pinning narrows the
    judges the panel is chosen from; it does not choose it."""
    rec = Recorder()
    pinned = LLMJudgeEvaluator(panel_size=1, judges=["function:pricey", "function:cheap", "function:weak"])
    orch = orchestrator(
        rec,
        model("gen", 0.001, 8.0),
        model("pricey", 0.005, 9.5),
        model("cheap", 0.0001, 7.8),
        model("weak", 0.00001, 5.0),
        model("other", 0.00005, 8.0),
        evaluator=pinned,
    )
    for prompt in ("Explain recursion", "Explain iteration"):  # (a second run on the same orchestrator, too)
        result = await orch.run(prompt, evaluation_threshold=5, preferred_models=["gen"])
        assert result.status == "completed"
    assert rec.by("judge") == Counter({"function:cheap": 2})  # (not "other", cheaper but not pinned)


async def test_a_paid_answer_is_judged_by_a_judge_that_still_fits() -> None:
    rec = Recorder()
    # the evaluator prefers the best judge whatever it costs; the budget leaves room only for the cheap one
    orch = orchestrator(
        rec,
        model("gen", 0.001, 9.0),
        model("cheap", 0.00001, 6.0),
        model("pricey", 1.0, 9.9),
        evaluator=LLMJudgeEvaluator(min_quality=None, cost_sensitivity=0),
        router=BayesianRouter(explore=False, cost_sensitivity=0),
    )
    result = await orch.run("Explain recursion", cost_limit=0.01, max_iterations=1)
    assert result.status == "completed", result.orchestration.error
    assert rec.by("generate") == Counter({"function:gen": 1})
    assert rec.by("judge") == Counter({"function:cheap": 1})
    assert result.total_cost <= 0.01


async def test_the_judging_reserve_prices_the_evaluators_own_output_cap() -> None:
    """`LLMJudgeEvaluator(max_output_tokens=64)` sends each judge a 64-token cap, but the run kept aside a judge's
    worst case at the orchestrator's 512 tokens: with a dear judge, a $0.01 budget refused every model ("no
    model's worst-case cost (with judging) fits") although the run cost $0.0003."""
    sent: list[tuple[str, int]] = []

    def fn(request: GenerationRequest) -> str:
        sent.append((request.purpose, request.max_output_tokens))
        return '{"score": 9, "feedback": "ok"}' if request.purpose == "judge" else "Hello!"

    catalog = ModelCatalog(
        [
            ModelProfile(name="function:a", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001),
            ModelProfile(
                name="function:j", input_cost_per_1k=0.001, output_cost_per_1k=0.02, quality=9, judge_only=True
            ),
        ]
    )
    orch = Orchestrator(
        providers=[FunctionProvider(fn)], catalog=catalog, evaluator=LLMJudgeEvaluator(max_output_tokens=64)
    )
    result = await orch.run("Say hello", cost_limit=0.005, max_iterations=1, max_output_tokens=100)
    assert result.status == "completed", result.error
    assert sent == [("generate", 100), ("judge", 64)]
    assert result.total_cost < 0.001
    await orch.aclose()


async def test_judging_when_needed_skips_a_verdict_nothing_depends_on() -> None:
    rec = Recorder(score=3.0)
    orch = orchestrator(rec, model("a", 0.001), model("b", 0.001), judging="when_needed")
    one = await orch.run("Hello", max_iterations=1)
    assert one.status == "completed" and one.final_score is None and one.final_response == "a short answer"
    assert rec.by("judge") == Counter() and one.stop_reason == "max_iterations"
    assert one.events[-1].type == "orchestration_completed"
    assert one.events[-1].final_score is None
    rec.calls.clear()
    two = await orch.run("Hello", max_iterations=2)  # the first verdict decides whether to refine: judged
    assert sum(rec.by("judge").values()) == 2  # the second is compared with the first: judged too
    assert two.final_score == 3.0
    with pytest.raises(UserError, match="judging must be"):
        orchestrator(rec, model("a", 0.001), judging="never")
    session = await orch.create_session(judging="always")
    rec.calls.clear()
    await orch.run("Hello", max_iterations=1, session=session)
    assert sum(rec.by("judge").values()) == 1


async def test_a_calibrated_score_is_a_probability() -> None:
    calibration = IsotonicCalibration.fit([3, 3, 3, 9, 9, 9, 9], [0, 0, 1, 1, 1, 1, 0])
    rec = Recorder(score=9.0)
    orch = orchestrator(rec, model("a", 0.001), model("b", 0.001), evaluator=LLMJudgeEvaluator(calibration=calibration))
    result = await orch.run("Hello", evaluation_threshold=7.0, max_iterations=1)
    evaluation = result.orchestration.iterations[0].evaluation
    assert evaluation is not None
    assert evaluation.raw_score == 9.0 and evaluation.probability == pytest.approx(0.75)
    assert evaluation.score == pytest.approx(7.5) and result.stop_reason == "threshold"


async def test_an_overbilled_answer_is_still_judged_within_the_judges_reservation() -> None:
    def fn(request: GenerationRequest) -> Generation:
        if request.purpose == "judge":
            return Generation(
                text=json.dumps({"score": 9, "feedback": "ok"}), usage=Usage(input_tokens=9, output_tokens=9)
            )
        return Generation(text="an answer", reported_cost=0.00999)  # billed far above the catalog price

    orch = Orchestrator(
        providers=[FunctionProvider(fn)], catalog=ModelCatalog([model("a", 0.001), model("b", 0.001)]), retry=NO_WAIT
    )
    result = await orch.run("Hello", cost_limit=0.01, max_iterations=1)
    [first] = result.orchestration.iterations
    # what was set aside for the judges with the answer stays theirs; only the overage passes the limit
    assert first.evaluation is not None and result.overage_cost > 0
    assert add_costs(result.total_cost, -result.overage_cost) <= 0.01


def planner_of(orch: Orchestrator, prompt: str = "Name three primes.") -> JudgePlanner:
    """A judge planner over a stand-in run of `orch` (what the planner reads of a run, and nothing else)."""
    doc = Orchestration(thread_id="t", session_id="s", user_id="u", prompt=prompt, domain="general")
    run = SimpleNamespace(
        o=orch,
        evaluator=orch.evaluator,
        circuit=orch.circuit,
        doc=doc,
        failed=set(),
        not_judging=set(),
        judges=None,
        judging="always",
    )
    return JudgePlanner(cast(Run, run))


def test_judging_prices_are_reused_only_while_nothing_they_depend_on_changes() -> None:
    rec = Recorder()
    cheap, dear = model("cheap", 0.001), model("dear", 0.01)
    orch = orchestrator(rec, model("author", 0.002), cheap, dear)
    planner = planner_of(orch)

    def price(judge: ModelProfile) -> float:
        return judge.worst_case_cost(planner._input_bound(judge, "function:author", 300), planner.judge_cap(judge))

    planner.decision()
    assert planner.reserve_for("function:author", 300) == price(cheap)
    planner.decision()  # nothing changed: the same prices
    assert planner.reserve_for("function:author", 300) == price(cheap)
    for _ in range(5):  # the judges' learned cap shrinks: their worst case with it
        orch.output_lengths.observe("function:cheap", "judge", 40, finish_reason="stop", cap=512)
    planner.decision()
    assert (
        planner.reserve_for("function:author", 300)
        == price(cheap)
        < cheap.worst_case_cost(planner._input_bound(cheap, "function:author", 300), 512)
    )
    orch.circuit.record_failure("function:cheap")  # not open yet (one failure): still a judge
    planner.decision()
    assert planner.reserve_for("function:author", 300) == price(cheap)
    for _ in range(5):
        orch.circuit.record_failure("function:cheap")  # open: the dearer judge is the one kept for
    planner.decision()
    assert planner.reserve_for("function:author", 300) == price(dear)
    orch.circuit.record_success("function:cheap")  # closed again
    planner.decision()
    assert planner.reserve_for("function:author", 300) == price(cheap)
    planner.run.failed |= {"function:cheap"}  # its answer failed (came back empty, say): no candidate, still a judge
    planner.decision()
    assert planner.reserve_for("function:author", 300) == price(cheap)
    planner.run.not_judging |= {"function:cheap"}  # failed in a way that rules it out (its key refused): no judge
    planner.decision()
    assert planner.reserve_for("function:author", 300) == price(dear)
    orch.catalog.set_status("function:dear", "disabled")  # a catalog change: nobody is left to judge
    planner.decision()
    assert planner.reserve_for("function:author", 300) is None


@given(
    prompt=st.text(min_size=1, max_size=200),
    context=st.none() | st.text(max_size=100),
    caps=st.lists(st.integers(1, 5000), min_size=1, max_size=4),
)
@settings(max_examples=50)
def test_a_judges_byte_bound_is_counted_once_and_stays_exact(prompt: str, context: str | None, caps: list[int]) -> None:
    """With a byte-counting provider, the bound of each answer length comes from the bound of an empty answer:
    it is what counting the whole stand-in request gives."""
    rec = Recorder()
    judge = model("judge", 0.001)
    orch = orchestrator(rec, model("author", 0.002), judge)
    planner = planner_of(orch, prompt)
    planner.run.doc.context = context
    for cap in caps:
        whole = planner._stand_in(judge, "function:author", "x " * (2 * cap))
        assert planner._input_bound(judge, "function:author", cap) == estimate_input_tokens(whole)


def test_a_judges_bound_is_counted_whole_when_the_evaluator_builds_its_own_requests() -> None:
    class Quoting(LLMJudgeEvaluator):
        def build_request(self, task: EvaluationTask, judge: ModelProfile, answer: str) -> GenerationRequest:
            request = super().build_request(task, judge, answer)
            quoted = Message(role="user", content=f"{answer}\n\n(again:)\n{answer}")
            return request.model_copy(update={"messages": [*request.messages, quoted]})

    rec = Recorder()
    judge = model("judge", 0.001)
    orch = orchestrator(rec, model("author", 0.002), judge, evaluator=Quoting())
    planner = planner_of(orch)
    for cap in (10, 300):
        whole = planner._stand_in(judge, "function:author", "x " * (2 * cap))
        assert planner._input_bound(judge, "function:author", cap) == estimate_input_tokens(whole)


class Quarters(FunctionProvider):
    """Counts a token per four characters of the messages, whatever the model (as the simulator does): a count of the
    messages alone (`_message_bound`), not a byte bound."""

    def count_input_tokens(self, request: GenerationRequest) -> int:
        return sum(len(m.content) for m in request.messages) // 4 + 1

    def _message_bound(self, messages: Sequence[Message]) -> int | None:
        return sum(len(m.content) for m in messages) // 4 + 1


@given(prompt=st.text(min_size=1, max_size=200), caps=st.lists(st.integers(1, 5000), min_size=1, max_size=4))
@settings(max_examples=30)
def test_a_judges_bound_from_a_count_of_its_messages_is_the_count_of_its_request(prompt: str, caps: list[int]) -> None:
    rec = Recorder()
    rec.provider = Quarters(rec.answer)
    judge = model("judge", 0.001)
    orch = orchestrator(rec, model("author", 0.002), judge)
    planner = planner_of(orch, prompt)
    for cap in caps:
        whole = planner._stand_in(judge, "function:author", "x " * (2 * cap))
        assert planner._input_bound(judge, "function:author", cap) == rec.provider.count_input_tokens(whole)


def _eligible_by_requests(planner: JudgePlanner, etask: EvaluationTask, answer: str, budget: float | None) -> list[str]:
    """`JudgePlanner.eligible` as it was written: every judge's request built, counted and priced."""
    out = []
    for judge in etask.judges:
        request = planner.request(etask, judge, answer)
        provider = planner.run.o.provider_for(judge)
        estimate = sum(len(m.content) for m in request.messages) // 4
        if estimate + request.max_output_tokens > judge.context_window:
            continue
        worst = judge.worst_case_cost(provider.count_input_tokens(request), request.max_output_tokens)
        if budget is None or worst <= budget + 1e-12:
            out.append(judge.name)
    return out


@given(
    prompt=st.text(min_size=1, max_size=300),
    context=st.none() | st.text(max_size=200),
    answer=st.text(max_size=2000),
    windows=st.lists(st.integers(300, 3000), min_size=3, max_size=3),
    max_outputs=st.lists(st.integers(1, 2000), min_size=3, max_size=3),
    judge_max=st.integers(1, 2000),
    learned=st.none() | st.integers(1, 1500),
    budget=st.none() | st.floats(0, 0.01),
)
@settings(max_examples=200)
@pytest.mark.parametrize("counting", ["bytes", "messages"])
def test_the_judges_offered_for_an_answer_are_those_their_requests_would_admit(
    counting: str,
    prompt: str,
    context: str | None,
    answer: str,
    windows: list[int],
    max_outputs: list[int],
    judge_max: int,
    learned: int | None,
    budget: float | None,
) -> None:
    """With a provider that counts the messages alone (a byte bound, or as the simulator does) and the default
    evaluator, `eligible` counts the judge prompt once rather than building every judge's request: the same judges,
    windows, caps (the run's, the evaluator's, the model's and the learned one) and budget considered."""
    rec = Recorder()
    if counting == "messages":
        rec.provider = Quarters(rec.answer)
    judges = [
        model(f"j{i}", price, window=window).model_copy(update={"max_output_tokens": cap})
        for i, (price, window, cap) in enumerate(zip((0.001, 0.002, 0.0005), windows, max_outputs, strict=True))
    ]
    orch = orchestrator(rec, model("author", 0.002), *judges, judge_max_output_tokens=judge_max)
    if learned is not None:
        for _ in range(5):
            orch.output_lengths.observe("function:j1", "judge", learned, finish_reason="stop", cap=judge_max)
    planner = planner_of(orch, prompt)
    planner.run.doc.context = context
    etask = EvaluationTask(
        prompt=prompt,
        domain="general",
        generating_model="function:author",
        judges=planner.pool("function:author"),
        call=cast(object, None),  # type: ignore[arg-type]
        context=context,
        max_output_tokens=judge_max,
    )
    offered = [j.name for j in planner.eligible(etask, answer, budget)]
    assert offered == _eligible_by_requests(planner, etask, answer, budget)


async def test_a_routing_decision_prices_each_candidate_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The chosen model's request is fitted as its candidacy was: its judging reserve and cap are not priced twice
    (the first judge priced in a decision used to restart it, dropping what the first candidate had been priced)."""
    from orchestratex.orchestrator._candidates import Candidates

    priced: list[str] = []
    fit_anew = Candidates._fit_anew

    def counting(self: Candidates, model: ModelProfile, *args: object) -> tuple[int, float] | None:
        priced.append(model.name)
        return fit_anew(self, model, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Candidates, "_fit_anew", counting)
    rec = Recorder()
    orch = orchestrator(rec, model("best", 0.001, quality=9.0), model("b", 0.001), model("c", 0.001))
    result = await orch.run("Name three primes.", cost_limit=1.0, max_iterations=1)
    assert result.status == "completed" and result.orchestration.iterations[0].model_name == "function:best"
    assert sorted(priced) == ["function:b", "function:best", "function:c"]


async def test_an_answer_returned_unjudged_is_counted_in_analytics() -> None:
    # (its call record was committed only with a verdict: the session's models[] summed to less than its total_cost,
    # and the answering model had no generation)
    rec = Recorder()
    orch = orchestrator(rec, model("a", 0.001), model("b", 0.001), judging="when_needed")
    session = await orch.create_session()
    one = await orch.run("Hello", max_iterations=1, session=session)
    assert one.final_score is None and one.total_cost > 0
    analytics = await orch.store.session_analytics(session.id)
    assert [(m.model_name, m.generations, m.judgements) for m in analytics.models] == [(one.final_model, 1, 0)]
    assert add_costs(*(m.cost for m in analytics.models)) == analytics.total_cost == one.total_cost
    again = await orch.run("Hello again", max_iterations=1, session=session)  # a second run: one record each
    analytics = await orch.store.session_analytics(session.id)
    assert sum(m.generations for m in analytics.models) == 2
    assert add_costs(*(m.cost for m in analytics.models)) == add_costs(one.total_cost, again.total_cost)


@given(
    windows=st.lists(st.sampled_from([2_048, 4_096, 8_192, 32_768]), min_size=2, max_size=4),
    twins=st.booleans(),
    pin=st.booleans(),
    judge_only=st.booleans(),
    words=st.integers(0, 3_000),
)
@settings(max_examples=60, deadline=None)
def test_the_answer_room_is_the_longest_answer_the_planner_finds_a_judge_for(
    windows: list[int], twins: bool, pin: bool, judge_only: bool, words: int
) -> None:
    """`answer_room` (what `/v1` asks of a call without `max_tokens`) is the planner's own reckoning: the longest
    answer cap for which some author's judging can be reserved. (The server repeated the planner's arithmetic, without
    the evaluator's pinned judges or a model's twin: with the same model on two endpoints, it counted one judging the
    other, and a long prompt's call was refused where a shorter answer would have been judged.)"""
    models = [
        model(f"m{i}", 0.001 * (i + 1), window=window, **cast(Any, {"version": "llama3.2"} if twins and i < 2 else {}))
        for i, window in enumerate(windows)
    ]
    if judge_only:
        models[-1] = models[-1].model_copy(update={"judge_only": True})
    evaluator = LLMJudgeEvaluator(judges=[models[-1].name]) if pin else None
    orch = orchestrator(Recorder(), *models, evaluator=evaluator)
    planner = planner_of(orch, "Summarise: " + "the tide turns " * words)
    authors = orch.usable_models()
    room = answer_room(orch, planner.run.doc, authors, orch.judge_models())

    def judged(cap: int) -> bool:
        planner.decision()
        return any(planner.reserve_for(author.name, cap) is not None for author in authors)

    if room is None:
        assert not judged(1)
    else:
        assert judged(room) and not judged(room + 1)
