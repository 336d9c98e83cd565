"""Mistakes a third party is likely to make in a Provider, a Router or an Evaluator of its own, met in a run.

Each is refused at once naming the fix (or, for an evaluator that calls no model, works), where the run failed deep
inside with an `AttributeError`, or counted an answer as free."""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from orchestratex import (
    Evaluation,
    EvaluationTask,
    Evaluator,
    FunctionProvider,
    Generation,
    GenerationRequest,
    MemoryStore,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
    Provider,
    Router,
    RoutingDecision,
    SQLiteStore,
    Task,
    UserError,
)
from orchestratex.exceptions import ConfigurationError
from orchestratex.usage import Usage

VERDICT = json.dumps({"score": 9.0, "feedback": "Fine."})


def catalog(provider: str, names: Sequence[str] = ("a", "b")) -> ModelCatalog:
    return ModelCatalog(ModelProfile(name=f"{provider}:{n}", cost_per_1k_tokens=0.001) for n in names)


class ReturnsDict(Provider):
    name = "dicts"

    async def generate(self, request: GenerationRequest) -> Generation:
        if request.purpose == "judge":
            return Generation(text=VERDICT, usage=Usage(input_tokens=5, output_tokens=5))
        return {"text": "hi", "usage": {"input_tokens": 1, "output_tokens": 1}}  # type: ignore[return-value]


def test_a_provider_returning_a_dict_is_named() -> None:
    orchestrator = Orchestrator(providers=[ReturnsDict()], catalog=catalog("dicts"))
    with pytest.raises(TypeError, match=re.escape("ReturnsDict.generate returned dict, not a Generation")):
        orchestrator.run_sync("Hi", max_iterations=1)


class NoUsage(Provider):
    """Answers without reporting usage or cost (its judges' verdicts report theirs)."""

    name = "nousage"

    async def generate(self, request: GenerationRequest) -> Generation:
        if request.purpose == "judge":
            return Generation(text=VERDICT, usage=Usage(input_tokens=5, output_tokens=5))
        return Generation(text="An answer that cost money.")


def test_an_answer_without_usage_is_counted_at_its_worst_case(caplog: pytest.LogCaptureFixture) -> None:
    """A priced model's answer reporting no tokens and no cost was counted at $0: the budget never saw it. It is
    now counted at the call's reserved worst case, the most it could have cost, with a warning."""
    orchestrator = Orchestrator(providers=[NoUsage()], catalog=catalog("nousage"))
    result = orchestrator.run_sync("Hi", max_iterations=1)
    [first] = result.orchestration.iterations
    assert result.status == "completed" and first.cost > 0 and first.usage.output_tokens == 0
    assert "answered without reporting its usage" in caplog.text and "reserved worst case" in caplog.text
    free = ModelCatalog(ModelProfile(name=f"nousage:{n}", cost_per_1k_tokens=0.0) for n in ("a", "b"))
    assert Orchestrator(providers=[NoUsage()], catalog=free).run_sync("Hi").total_cost == 0


def test_a_function_providers_answer_without_usage_is_estimated_not_free() -> None:
    """A test's `Generation(text=...)` from a `FunctionProvider` function gets the estimate a str gets."""

    def answer(request: GenerationRequest) -> Any:
        return VERDICT if request.purpose == "judge" else Generation(text="An answer that cost money.")

    result = Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("function")).run_sync(
        "Hi", max_iterations=1
    )
    [first] = result.orchestration.iterations
    assert result.status == "completed" and first.usage.output_tokens == 7 and first.cost > 0


class SetsFields(Provider):
    """Sets fields of its answers after building them (a Generation validates nothing assigned to it)."""

    name = "sets"

    def __init__(self, **fields: object) -> None:
        self.fields = fields

    async def generate(self, request: GenerationRequest) -> Generation:
        text = VERDICT if request.purpose == "judge" else "ok"
        gen = Generation(text=text, usage=Usage(input_tokens=5, output_tokens=5))
        for name, value in self.fields.items():
            setattr(gen, name, value)
        return gen


def test_a_providers_fields_set_after_validation_reach_the_records_validated_or_are_named() -> None:
    """The run's events and call records are made from the answer's fields without validation: a latency set as
    an int stayed an int in `response_generated`, and a finish reason no text was stored as it was."""
    result = Orchestrator(providers=[SetsFields(latency_ms=12, reported_cost=0)], catalog=catalog("sets")).run_sync(
        "Hi", max_iterations=1
    )
    [generated] = [e for e in result.events if e.type == "response_generated"]
    [it] = result.orchestration.iterations
    assert (generated.latency_ms, it.latency_ms, it.reported_cost) == (12.0, 12.0, 0.0)
    assert all(type(v) is float for v in (generated.latency_ms, it.latency_ms, it.reported_cost))
    orchestrator = Orchestrator(providers=[SetsFields(finish_reason=5)], catalog=catalog("sets"))
    with pytest.raises(
        ValueError, match=re.escape("SetsFields.generate returned an invalid Generation: finish_reason")
    ):
        orchestrator.run_sync("Hi", max_iterations=1)


@pytest.mark.parametrize("latency", [math.nan, math.inf])
def test_a_providers_latency_that_is_not_finite_is_named_not_stored(tmp_path: Path, latency: float) -> None:
    """A NaN (or infinite) `latency_ms` was stored in the run's iteration, call record and `response_generated`
    event as JSON's null: on a MemoryStore the run completed, then every read of the run and of its session's events
    failed with a pydantic ValidationError; on SQLite the run failed with "StoreError: SQLite error: NOT NULL
    constraint failed: calls.latency_ms", its session's events unreadable all the same."""

    def answer(request: GenerationRequest) -> Generation:
        text = VERDICT if request.purpose == "judge" else "ok"
        return Generation(text=text, usage=Usage(input_tokens=5, output_tokens=5), latency_ms=latency)

    for store in (MemoryStore(), SQLiteStore(tmp_path / f"runs-{latency}.db")):
        orchestrator = Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("function"), store=store)
        with orchestrator:
            with pytest.raises(
                ValueError, match=r"generate returned an invalid Generation: latency_ms: .* not a finite"
            ):
                orchestrator.run_sync("Hi", max_iterations=1)
        asyncio.run(_the_run_reads_back_failed(store))


async def _the_run_reads_back_failed(store: MemoryStore | SQLiteStore) -> None:
    async with store:
        [session] = await store.list_sessions("local")
        assert [e.type for e in await store.list_events(session.id)][-1] == "orchestration_failed"
        assert [o.status for o in await store.list_orchestrations(session_id=session.id)] == ["failed"]


def test_an_answer_without_usage_with_an_unusable_reported_cost_is_not_counted_free() -> None:
    """An unusable reported cost (infinite, above any amount) is ignored for the catalog price: with no usage that
    price was $0, and the answer was counted free, the check for an answer without usage passed over."""

    def answer(request: GenerationRequest) -> Any:
        if request.purpose == "judge":
            return VERDICT
        return Generation(text="An answer that cost money.", reported_cost=float("inf"))

    result = Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("function")).run_sync(
        "Hi", max_iterations=1
    )
    [first] = result.orchestration.iterations
    assert result.status == "completed" and first.cost > 0


class ReturnsName(Router):
    async def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        return candidates[0].name  # type: ignore[return-value]


def test_a_router_returning_a_name_is_named() -> None:
    def answer(request: GenerationRequest) -> str:
        return VERDICT if request.purpose == "judge" else "ok"

    orchestrator = Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("function"), router=ReturnsName())
    with pytest.raises(TypeError, match=re.escape("ReturnsName.select returned str, not a RoutingDecision")):
        orchestrator.run_sync("Hi", max_iterations=1)


class SetsScores(Router):
    """Sets its scores after building its decision (a RoutingDecision validates nothing assigned to it)."""

    def __init__(self, score: object) -> None:
        self.score = score

    async def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        decision = RoutingDecision(model_name=candidates[0].name, reasoning="first")
        decision.scores = {m.name: self.score for m in candidates}  # type: ignore[misc]
        return decision


def test_a_routers_scores_reach_its_event_as_floats_or_are_named() -> None:
    """The run's `model_selected` event is made from the router's scores without validation: an int or a numeric
    string (a numpy float32 alike) was kept as it was, and text no number was stored as is."""

    def answer(request: GenerationRequest) -> str:
        return VERDICT if request.purpose == "judge" else "ok"

    for score in (1, "0.5"):
        router = SetsScores(score)
        result = Orchestrator(
            providers=[FunctionProvider(answer)], catalog=catalog("function"), router=router
        ).run_sync("Hi", max_iterations=1)
        [selected] = [e for e in result.events if e.type == "model_selected"]
        assert selected.scores == {"function:a": float(score), "function:b": float(score)}
        assert all(type(v) is float for v in selected.scores.values())
        assert json.loads(selected.model_dump_json())["scores"] == selected.scores
    orchestrator = Orchestrator(
        providers=[FunctionProvider(answer)], catalog=catalog("function"), router=SetsScores("high")
    )
    with pytest.raises(TypeError, match=re.escape("SetsScores.select returned a RoutingDecision whose scores are not")):
        orchestrator.run_sync("Hi", max_iterations=1)


class ValuePerDollar(Router):
    """Scores each model by quality per dollar: a free model's score is infinite (or NaN, 0 / 0)."""

    def __init__(self, free: float) -> None:
        self.free = free

    async def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        scores = {m.name: self.free if m is candidates[0] else 7.0 for m in candidates}
        return RoutingDecision(model_name=candidates[0].name, reasoning="best value", scores=scores)


@pytest.mark.parametrize("free", [math.inf, math.nan])
def test_a_routers_score_that_is_not_finite_is_named_not_stored(tmp_path: Path, free: float) -> None:
    """An infinite or NaN score was stored in the run's `model_selected` event as JSON's null: the run completed, and
    every later read of its session's events (`list_events`: the WebSocket's replay, the console) failed with a
    pydantic ValidationError, for good."""

    def answer(request: GenerationRequest) -> str:
        return VERDICT if request.purpose == "judge" else "ok"

    store = SQLiteStore(tmp_path / "runs.db")
    orchestrator = Orchestrator(
        providers=[FunctionProvider(answer)], catalog=catalog("function"), router=ValuePerDollar(free), store=store
    )
    with orchestrator:
        with pytest.raises(
            TypeError, match=r"ValuePerDollar.select returned a RoutingDecision whose scores are not fin"
        ):
            orchestrator.run_sync("Hi", max_iterations=1)

    async def read() -> None:
        async with SQLiteStore(tmp_path / "runs.db") as again:
            for session in await again.list_sessions("local"):
                await again.list_events(session.id)  # (raised ValidationError: model_selected.scores)

    asyncio.run(read())


class Regex(Evaluator):
    """Calls no model: `panel_size_for` says it makes no judge call."""

    async def evaluate(self, task: EvaluationTask, response: Generation) -> Evaluation:
        score = 10.0 if re.search(r"\d", response.text) else 1.0
        return Evaluation(score=score, feedback="a number is needed", judge_models=["regex"])

    def panel_size_for(self, judges: Sequence[ModelProfile]) -> int:
        return 0


def test_an_evaluator_calling_no_model_runs_on_a_one_model_catalog() -> None:
    provider = FunctionProvider(lambda request: "42")
    orchestrator = Orchestrator(providers=[provider], catalog=catalog("function", ["only"]), evaluator=Regex())
    result = orchestrator.run_sync("What is six times seven?", max_iterations=1)
    assert result.status == "completed" and result.final_score == 10.0


class RegexLeftAtOne(Evaluator):
    """Calls no model, but leaves `panel_size_for` at its default (one judge call), as docs/evaluation.md's example
    did."""

    async def evaluate(self, task: EvaluationTask, response: Generation) -> Evaluation:
        return Evaluation(score=9.0, feedback="fine", judge_models=["regex"])


def test_an_evaluator_that_says_it_calls_a_judge_on_a_one_model_catalog_is_refused_naming_the_fix() -> None:
    """It started a run that failed with "no judge is available: a judge must be another usable model that is not
    failing", which said nothing of the evaluator."""
    provider = FunctionProvider(lambda request: "42")
    orchestrator = Orchestrator(providers=[provider], catalog=catalog("function", ["only"]), evaluator=RegexLeftAtOne())
    with pytest.raises(
        ConfigurationError, match=r"RegexLeftAtOne.panel_size_for .* override panel_size_for to return 0"
    ):
        orchestrator.run_sync("What is six times seven?", max_iterations=1)


def test_an_evaluator_calling_no_model_keeps_nothing_for_judging() -> None:
    """With `panel_size_for` 0 no judge's worst case is set aside: a budget that pays for the answer alone runs
    (the only other model, a dear one, would have been priced in as its judge)."""
    models = ModelCatalog(
        [
            ModelProfile(name="function:cheap", input_cost_per_1k=0.001, output_cost_per_1k=0.002),
            ModelProfile(name="function:dear", input_cost_per_1k=1.0, output_cost_per_1k=1.0),
        ]
    )
    provider = FunctionProvider(lambda request: "42")
    ran = Orchestrator(providers=[provider], catalog=models, evaluator=Regex()).run_sync(
        "Six times seven?", cost_limit=0.005
    )
    assert ran.status == "completed" and ran.final_model == "function:cheap"
    priced_out = Orchestrator(providers=[provider], catalog=models, evaluator=RegexLeftAtOne())
    assert priced_out.run_sync("Six times seven?", cost_limit=0.005).stop_reason == "budget"


class Nameless(Provider):
    async def generate(self, request: GenerationRequest) -> Generation:
        text = VERDICT if request.purpose == "judge" else "hi"
        return Generation(text=text, usage=Usage(input_tokens=1, output_tokens=1))


def test_a_provider_class_without_a_name_is_refused_naming_the_fix() -> None:
    """It was filed under "" and the run failed with "provider 'p' not configured … Configured providers: ."."""
    with pytest.raises(UserError, match=r"Nameless has no name: set the class attribute `name = \"...\"`"):
        Orchestrator(providers=[Nameless()], catalog=catalog("p"))
    assert Orchestrator(providers={"p": Nameless()}, catalog=catalog("p")).run_sync("Hi").status == "completed"


def test_two_providers_of_one_name_in_a_list_are_refused() -> None:
    """The second replaced the first without a word."""
    first, second = FunctionProvider(lambda r: "one"), FunctionProvider(lambda r: "two")
    with pytest.raises(UserError, match=r"two providers are named 'function' .* to name each one"):
        Orchestrator(providers=[first, second], catalog=catalog("function"))


class Chooses(Router):
    def __init__(self, name: str) -> None:
        self.name = name

    async def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        return RoutingDecision(model_name=self.name, reasoning="by name")


def test_a_router_choosing_by_alias_or_outside_the_candidates_is_told_what_to_return() -> None:
    def answer(request: GenerationRequest) -> str:
        return VERDICT if request.purpose == "judge" else "ok"

    models = catalog("function", ("a", "b", "c"))
    models.alias("fast", "function:a")
    # both said only "the router chose 'fast', which is not among the candidates", though 'fast' named one
    result = Orchestrator(providers=[FunctionProvider(answer)], catalog=models, router=Chooses("fast")).run_sync("Hi")
    assert result.status == "failed" and result.error == (
        "the router chose 'fast', which is not among the candidates: it is an alias, and a router returns the"
        " candidate's name, 'function:a'"
    )
    result = Orchestrator(providers=[FunctionProvider(answer)], catalog=models, router=Chooses("x:y")).run_sync("Hi")
    assert result.error == (
        "the router chose 'x:y', which is not among the candidates (function:a, function:b, function:c)"
    )


def test_a_router_choosing_a_model_whose_call_failed_is_told_it_failed() -> None:
    """A router with a fixed choice, asked again to fall back after that model's call failed, was told only that the
    model was not among the candidates, which it had been a moment before."""

    def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return VERDICT
        return "" if request.model.name == "function:a" else "ok"  # a's answer is empty: its attempt failed

    models = catalog("function", ("a", "b", "c"))
    result = Orchestrator(providers=[FunctionProvider(answer)], catalog=models, router=Chooses("function:a")).run_sync(
        "Hi"
    )
    assert result.status == "failed" and result.error == (
        "the router chose 'function:a', which is not among the candidates: its call failed earlier in this run, so it"
        " is no candidate for the rest of the run; a router chooses among the candidates it is given (function:b,"
        " function:c)"
    )


class _Sized(Evaluator):
    """An evaluator of one's own whose `panel_size_for` returns `size`."""

    def __init__(self, size: object) -> None:
        self.size = size

    async def evaluate(self, task: EvaluationTask, response: Generation) -> Evaluation:
        return Evaluation(score=9.0, feedback="fine", judge_models=["rubric"])

    def panel_size_for(self, judges: Sequence[ModelProfile]) -> int:
        return self.size  # type: ignore[return-value]


@pytest.mark.parametrize("size", [None, "1", 1.5, -1, True])
def test_an_evaluators_panel_size_that_is_no_count_of_judges_is_named_before_the_run(size: object) -> None:
    # `def panel_size_for(self, judges): 0` (the `return` forgotten) failed the run with "TypeError: '<=' not supported
    # between instances of 'NoneType' and 'int'" (1.5: "slice indices must be integers", the run stored failed);
    # -1 and True were taken as counts
    orchestrator = Orchestrator(
        providers=[FunctionProvider(lambda request: VERDICT if request.purpose == "judge" else "an answer")],
        catalog=catalog("function"),
        evaluator=_Sized(size),
        store=MemoryStore(),
    )
    with pytest.raises(UserError, match=r"^_Sized\.panel_size_for returned .*: how many judge models one evaluation"):
        orchestrator.run_sync("What is six times seven?", max_iterations=1)
    assert asyncio.run(orchestrator.store.list_orchestrations()) == []  # (nothing stored)
    orchestrator.evaluator = _Sized(0)
    assert orchestrator.run_sync("What is six times seven?", max_iterations=1).status == "completed"
    orchestrator.close()


@pytest.mark.parametrize("size", [None, "1", 1.5])
def test_an_evaluators_panel_size_that_is_no_count_of_judges_is_named_by_create_session(size: object) -> None:
    # a session whose only judge is its only model asks the evaluator whether it calls a judge: None failed with
    # "TypeError: '>' not supported between instances of 'NoneType' and 'int'" (a 500 on `POST /api/sessions/`)
    orchestrator = Orchestrator(
        providers=[FunctionProvider(lambda request: "an answer")], catalog=catalog("function"), evaluator=_Sized(size)
    )
    only = ["function:a"]
    with pytest.raises(UserError, match=r"^_Sized\.panel_size_for returned .*: how many judge models one evaluation"):
        asyncio.run(orchestrator.create_session(preferred_models=only, judges=only))
    orchestrator.evaluator = _Sized(0)
    assert asyncio.run(orchestrator.create_session(preferred_models=only, judges=only)).settings.judges == only


class _Counting(Provider):
    """A provider of one's own with a tokenizer of its own, which counts `counted` input tokens for every request."""

    name = "counting"

    def __init__(self, counted: object) -> None:
        self.counted = counted

    async def generate(self, request: GenerationRequest) -> Generation:
        text = VERDICT if request.purpose == "judge" else "an answer"
        return Generation(text=text, usage=Usage(input_tokens=5, output_tokens=5))

    def count_input_tokens(self, request: GenerationRequest) -> int:
        return self.counted  # type: ignore[return-value]


@pytest.mark.parametrize("counted", [3.5, -5, "12", None, True], ids=["float", "negative", "str", "none", "bool"])
def test_a_providers_count_of_input_tokens_that_is_no_count_fails_the_run_naming_it(counted: object) -> None:
    # as FunctionProvider(count_tokens=...) does: 3.5 reserved a fractional budget, -5 failed with "input_tokens must
    # be a whole number of tokens >= 0, not -5", "12" and None with a TypeError from deep in the run
    result = Orchestrator(providers=[_Counting(counted)], catalog=catalog("counting")).run_sync("Hi", max_iterations=1)
    assert result.status == "failed" and result.total_cost == 0.0
    assert (result.orchestration.error or "").startswith(
        f"UserError: _Counting.count_input_tokens returned {counted!r}: return an upper bound of the request's input "
        "tokens as an int >= 0"
    )
    assert Orchestrator(providers=[_Counting(7)], catalog=catalog("counting")).run_sync("Hi").status == "completed"


class _Floored(Provider):
    """A provider of one's own whose API refuses an output cap below `least` (`min_output_tokens`)."""

    name = "floored"

    def __init__(self, least: object) -> None:
        self.least = least

    async def generate(self, request: GenerationRequest) -> Generation:
        text = VERDICT if request.purpose == "judge" else "an answer"
        return Generation(text=text, usage=Usage(input_tokens=5, output_tokens=5))

    def min_output_tokens(self, model: ModelProfile) -> int:
        return self.least  # type: ignore[return-value]


@pytest.mark.parametrize("least", [None, "16", 16.5, -5, True], ids=["none", "str", "float", "negative", "bool"])
def test_a_providers_least_output_cap_that_is_no_count_fails_the_run_naming_it(least: object) -> None:
    # `def min_output_tokens(self, model): 16` (the `return` forgotten) failed the run with "TypeError: '<' not
    # supported between instances of 'int' and 'NoneType'"; -5 and 16.5 were taken
    result = Orchestrator(providers=[_Floored(least)], catalog=catalog("floored")).run_sync("Hi", max_iterations=1)
    assert result.status == "failed" and result.total_cost == 0.0
    assert (result.orchestration.error or "").startswith(
        f"UserError: _Floored.min_output_tokens returned {least!r} for floored:a: return the smallest output cap its "
        "API takes, an int >= 1"
    )
    assert Orchestrator(providers=[_Floored(16)], catalog=catalog("floored")).run_sync("Hi").status == "completed"
