"""The pre-run check sees the judges a run may use: the judge set (`Orchestrator(judges=...)`, a session's) and
the judges an `LLMJudgeEvaluator` pins. A run none of whose models could be judged is refused before any call."""

from __future__ import annotations

import json

import pytest

from orchestratex import (
    FunctionProvider,
    GenerationRequest,
    LLMJudgeEvaluator,
    MemoryStore,
    ModelProfile,
    Orchestrator,
)
from orchestratex.exceptions import ConfigurationError, UnknownModelError, UserError

from ..helpers import NO_WAIT, catalog


class Calls:
    def __init__(self) -> None:
        self.made: list[tuple[str, str]] = []

    def __call__(self, request: GenerationRequest) -> str:
        self.made.append((request.model.name, request.purpose))
        return json.dumps({"score": 9, "feedback": "ok"}) if request.purpose == "judge" else "an answer"


def orchestrator(calls: Calls, **kwargs: object) -> Orchestrator:
    return Orchestrator(
        providers=[FunctionProvider(calls)],
        catalog=catalog("m1", "m2"),
        store=MemoryStore(),
        retry=NO_WAIT,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("kwargs", "allowed"),
    [
        ({"judges": ["m2"]}, "(judges=['function:m2']) are function:m2"),
        ({"evaluator": LLMJudgeEvaluator(judges=["m2"])}, "(LLMJudgeEvaluator(judges=['m2'])) are function:m2"),
        (
            {"judges": ["m1"], "evaluator": LLMJudgeEvaluator(judges=["function:m2"])},
            "are none (a judge must be enabled, priced, served by a configured provider and allowed by each)",
        ),
    ],
)
async def test_a_run_no_allowed_judge_can_judge_is_refused_before_any_call(
    kwargs: dict[str, object], allowed: str
) -> None:
    calls = Calls()
    orch = orchestrator(calls, **kwargs)
    preferred = ["m1", "m2"] if "evaluator" in kwargs and "judges" in kwargs else ["m2"]
    with pytest.raises(ConfigurationError, match="no model can judge the answers of ") as caught:
        await orch.run("Hello", preferred_models=preferred)
    assert allowed in caught.value.message and "Allow another judge" in caught.value.message
    assert calls.made == []
    assert await orch.store.list_orchestrations() == []  # refused, not stored as a failed run


async def test_a_sessions_judges_are_checked_too() -> None:
    calls = Calls()
    orch = orchestrator(calls)
    session = await orch.create_session(judges=["m2"])
    with pytest.raises(ConfigurationError, match=r"judges allowed \(judges=\['function:m2'\]\)"):
        await orch.run("Hello", session=session, preferred_models=["m2"])
    assert calls.made == []
    result = await orch.run("Hello", preferred_models=["m2"])  # the orchestrator's judge set: any model
    assert result.status == "completed"


async def test_a_sessions_judge_removed_or_disabled_since_is_named_with_why() -> None:
    # A session's only judge removed from the catalog since (or disabled) refused every run with "the judges allowed
    # (judges=['function:m3']) are none (a judge must be enabled, priced, served by a configured provider and
    # allowed by each)", naming no reason, while the same for a preferred model says "no longer in the catalog: …"
    calls = Calls()
    models = catalog("m1", "m2", "m3")
    orch = Orchestrator(providers=[FunctionProvider(calls)], catalog=models, store=MemoryStore(), retry=NO_WAIT)
    session = await orch.create_session(judges=["m3"], preferred_models=["m1", "m2"])
    models.remove("function:m3")
    with pytest.raises(
        ConfigurationError, match=r"judges allowed \(judges=\['function:m3'\]\) are none \(no longer in the catalog: "
    ):
        await orch.run("Hello", session=session)
    other = await orch.create_session(judges=["m2"], preferred_models=["m1"])
    models.set_status("function:m2", "disabled")
    with pytest.raises(ConfigurationError, match=r"are none \(disabled: function:m2\)\. Allow another judge"):
        await orch.run("Hello", session=other)
    assert calls.made == []


async def test_a_model_an_allowed_judge_can_judge_runs() -> None:
    calls = Calls()
    orch = orchestrator(calls, judges=["m2"], evaluator=LLMJudgeEvaluator(judges=["m2"]))  # (a bare model id)
    result = await orch.run("Hello", preferred_models=["m1", "m2"], max_iterations=1)
    assert result.status == "completed"
    assert calls.made == [("function:m1", "generate"), ("function:m2", "judge")]


async def test_the_judge_set_is_checked_again_when_it_changes() -> None:
    calls = Calls()
    orch = orchestrator(calls)
    assert (await orch.run("Hello", preferred_models=["m2"], max_iterations=1)).status == "completed"
    orch.judges = ["function:m2"]
    with pytest.raises(ConfigurationError, match="no model can judge"):
        await orch.run("Hello", preferred_models=["m2"])


async def test_a_pinned_judge_the_catalog_does_not_know_is_refused() -> None:
    calls = Calls()
    orch = orchestrator(calls, evaluator=LLMJudgeEvaluator(judges=["m2", "gpt-4o-typo"]))
    with pytest.raises(ConfigurationError, match="names 'gpt-4o-typo', which is not a model of the catalog"):
        await orch.run("Hello")
    assert calls.made == []


async def test_a_run_that_judges_nothing_runs_with_one_model() -> None:
    # docs/evaluation.md: with judging="when_needed" and max_iterations=1 every answer is returned unjudged; yet a
    # one-model setup (a single local model) was refused before any call, "no model can judge the answers of …".
    calls = Calls()
    orch = Orchestrator(providers=[FunctionProvider(calls)], catalog=catalog("solo"), judging="when_needed")
    result = await orch.run("Hello", max_iterations=1)
    assert (result.status, result.final_response, result.final_score) == ("completed", "an answer", None)
    assert calls.made == [("function:solo", "generate")]
    with pytest.raises(ConfigurationError, match=r"judging=\"when_needed\" and max_iterations=1$"):
        await orch.run("Hello", max_iterations=2)  # a second answer needs a verdict to compare: still refused
    always = Orchestrator(providers=[FunctionProvider(calls)], catalog=catalog("solo"))
    session = await always.create_session("alice", judging="when_needed", max_iterations=1)
    assert (await always.run("Hello", session=session)).status == "completed"
    with pytest.raises(ConfigurationError, match="no model can judge the answers of function:solo"):
        await always.run("Hello", max_iterations=1)
    assert len(calls.made) == 2


async def test_a_session_that_judges_nothing_may_have_its_only_model_as_its_only_judge() -> None:
    # `preferred_models=["m1"], judges=["m1"]` with judging="when_needed" and max_iterations=1 was refused at
    # creation with "no model can judge the answers of function:m1", though its runs call no judge
    calls = Calls()
    orch = orchestrator(calls)
    session = await orch.create_session(preferred_models=["m1"], judges=["m1"], judging="when_needed", max_iterations=1)
    result = await orch.run("Hello", session=session)
    assert (result.status, result.final_score) == ("completed", None)
    assert calls.made == [("function:m1", "generate")]
    with pytest.raises(ConfigurationError, match="no model can judge the answers of function:m1"):
        await orch.run("Hello", session=session, max_iterations=2)  # a second answer needs a verdict
    quick = orchestrator(calls, judging="when_needed")  # (the orchestrator's judging, its max_iterations)
    await quick.create_session(preferred_models=["m1"], judges=["m1"], max_iterations=1)
    for refused in ({"judging": "when_needed", "max_iterations": 2}, {"judging": "always", "max_iterations": 1}):
        with pytest.raises(UserError, match="no model can judge the answers of function:m1"):
            await orch.create_session(preferred_models=["m1"], judges=["m1"], **refused)  # type: ignore[arg-type]


async def test_a_bare_model_id_of_two_endpoints_pins_both_and_is_ambiguous_to_route_to() -> None:
    # docs/evaluation.md: LLMJudgeEvaluator(judges=[...]) pins "names, aliases or bare model ids": the same model
    # behind two endpoints (a laptop and a GPU server) was refused at every run, "names 'llama', which is not a model
    # of the catalog"; and preferred_models=["llama"] asked "did you mean 'llama'?" of 'llama' itself
    calls = Calls()
    models = catalog("x")
    for endpoint, price in (("laptop", 0.0001), ("gpu", 0.001)):
        models.add(ModelProfile(name=f"{endpoint}:llama", input_cost_per_1k=price, output_cost_per_1k=price))
    orch = Orchestrator(
        providers={name: FunctionProvider(calls, name=name) for name in ("function", "laptop", "gpu")},
        catalog=models,
        store=MemoryStore(),
        retry=NO_WAIT,
        evaluator=LLMJudgeEvaluator(judges=["llama"]),
    )
    result = await orch.run("Hello", preferred_models=["function:x"], max_iterations=1)
    assert result.status == "completed"
    assert calls.made[0] == ("function:x", "generate")
    assert {judge for judge, purpose in calls.made if purpose == "judge"} <= {"laptop:llama", "gpu:llama"}
    with pytest.raises(UnknownModelError) as raised:
        await orch.run("Hello", preferred_models=["llama"])
    assert str(raised.value) == (
        "model 'llama' is ambiguous: it is the model id of 2 models of the catalog (gpu:llama, laptop:llama); "
        "name one in full"
    )
    assert raised.value.ambiguous == ["laptop:llama", "gpu:llama"]


async def test_a_model_behind_another_endpoint_never_judges_its_own_answer() -> None:
    # docs/evaluation.md: "a model never judges its own answer". The same model behind a second endpoint did: a run
    # routed to `dear:llama` had its answer judged by `cheap:llama` (the cheapest judge, so the first one asked), and
    # `openrouter:openai/gpt-4o` judged `openai:gpt-4o`'s
    calls = Calls()
    models = catalog()
    for name, price in (("dear:llama", 0.01), ("cheap:llama", 0.0001), ("other:mistral", 0.001)):
        models.add(ModelProfile(name=name, input_cost_per_1k=price, output_cost_per_1k=price))
    orch = Orchestrator(
        providers={name: FunctionProvider(calls, name=name) for name in ("dear", "cheap", "other")},
        catalog=models,
        store=MemoryStore(),
        retry=NO_WAIT,
    )
    for author in ("dear:llama", "cheap:llama"):
        calls.made.clear()
        result = await orch.run("Hello", preferred_models=[author], max_iterations=1)
        assert result.status == "completed", result.error
        assert calls.made == [(author, "generate"), ("other:mistral", "judge")]
    # with no other model to judge it, the run is refused before any call, saying why
    models.remove("other:mistral")
    with pytest.raises(ConfigurationError, match=r"the same model behind another endpoint"):
        await orch.run("Hello", preferred_models=["dear:llama"], max_iterations=1)
    assert len(calls.made) == 2


async def test_a_vendors_model_through_a_gateway_is_the_same_model() -> None:
    from orchestratex.catalog import model_identity

    def profile(name: str) -> ModelProfile:
        return ModelProfile(name=name, cost_per_1k_tokens=0.001)

    assert model_identity(profile("openai:gpt-4o")) == model_identity(profile("openrouter:openai/GPT-4o"))
    assert model_identity(profile("openai:gpt-4o")) != model_identity(profile("openai:gpt-4o-mini"))
    assert model_identity(profile("ollama:llama3.2:1b")) != model_identity(profile("ollama:llama3.2:3b"))


async def test_a_refused_run_leaves_no_session_behind() -> None:
    """Before: `run(prompt)` without a session made one, stored it, and only then found the run could not be judged:
    each refused run left an empty session in the store (with the run's `cost_limit`), which the console and
    `list_sessions` showed. A run refused before any call now stores nothing."""
    calls = Calls()
    orch = Orchestrator(providers=[FunctionProvider(calls)], catalog=catalog("solo"), store=MemoryStore())
    for _ in range(3):
        with pytest.raises(ConfigurationError, match="no model can judge the answers of function:solo"):
            await orch.run("Hello", cost_limit=0.5)
    with pytest.raises(UnknownModelError):
        await orch.run("Hello", preferred_models=["nosuch"])
    assert await orch.store.list_sessions("local") == []
    assert await orch.store.list_orchestrations() == []
    judged = Orchestrator(providers=[FunctionProvider(calls)], catalog=catalog("a", "b"), store=orch.store)
    result = await judged.run("Hello", cost_limit=0.5, max_iterations=1)
    [session] = await orch.store.list_sessions("local")  # a run that goes ahead has its session, as before
    assert (session.id, session.settings.cost_limit) == (result.orchestration.session_id, 0.5)
