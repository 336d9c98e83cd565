"""A router or evaluator put in place on a built orchestrator (`orchestrator.router = ...`, in a notebook between
runs) is checked as the constructor's, and a new router is attached to the orchestrator's store as the first was."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from orchestratex import (
    BayesianRouter,
    LLMJudgeEvaluator,
    OrchestrationStarted,
    Orchestrator,
    SimulatedProvider,
    UserError,
)

from ..helpers import mypy_strict


async def test_a_router_put_in_place_after_a_run_learns_into_the_store(tmp_path: Path) -> None:
    # the new router was never attached to the store: the runs after it left no routing statistics there (a restart
    # forgot all it had learned), and it started from nothing instead of what the store held
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    async with Orchestrator(providers=[SimulatedProvider(latency_scale=0)], store=url) as orchestrator:
        await orchestrator.run("Explain recursion", max_iterations=1)
        orchestrator.router = BayesianRouter(explore=False)
        for i in range(2):
            result = await orchestrator.run(f"Explain recursion, take {i}", max_iterations=1)
            assert result.status == "completed", result.error
        stats = await orchestrator.store.routing_stats("bayesian")
    assert sum(s.n for s in stats) == 3  # one judged answer per run, the two after the change included


async def test_a_router_put_in_place_and_two_runs_started_at_once_load_the_store_once(tmp_path: Path) -> None:
    # both runs attached the new router: the second forgot what the first was loading, and the first then loaded the
    # cascade statistics on top of the second's, so the router counted each stored answer (and every answer after a
    # rejection) twice and planned as if it had seen twice as much
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    async with Orchestrator(providers=[SimulatedProvider(seed=1, latency_scale=0)], store=url) as orchestrator:
        for i in range(3):
            await orchestrator.run(f"Prove that {i} is a number", max_iterations=3, evaluation_threshold=9.9)
        router = orchestrator.router = BayesianRouter(explore=False)
        await asyncio.gather(orchestrator.run("Say hello", max_iterations=1), orchestrator.run("Hi", max_iterations=1))
        fresh = BayesianRouter(explore=False)
        await fresh.attach(orchestrator.store)  # what the store holds
    assert sum(n for n, _ in fresh.memory.single.values()) >= 5  # (three runs of up to three answers, and two)
    assert router.memory.single == fresh.memory.single  # before: about twice the store's counts
    assert router.memory.pairs == fresh.memory.pairs


@pytest.mark.parametrize(
    ("part", "value", "message"),
    [
        ("router", 5, r"^router must be like BayesianRouter\(\), not int 5$"),
        ("router", None, r"^router must be like BayesianRouter\(\), not None$"),
        ("router", BayesianRouter, r"^router must be an instance, not the class BayesianRouter"),
        ("evaluator", None, r"^evaluator must be like LLMJudgeEvaluator\(\), not None$"),
        ("evaluator", LLMJudgeEvaluator, r"^evaluator must be an instance, not the class LLMJudgeEvaluator"),
    ],
)
async def test_a_part_put_in_place_is_checked_as_the_constructors(part: str, value: Any, message: str) -> None:
    # `orchestrator.evaluator = None` or `orchestrator.router = 5` was taken; each run then failed with an
    # AttributeError ("'NoneType' object has no attribute 'panel_size_for'", "'int' object has no attribute 'select'")
    orchestrator = Orchestrator(providers=[SimulatedProvider(latency_scale=0)])
    before = getattr(orchestrator, part)
    with pytest.raises(UserError, match=message):
        setattr(orchestrator, part, cast(Any, value))
    assert getattr(orchestrator, part) is before
    result = await orchestrator.run("Hello", max_iterations=1)
    assert result.status == "completed", result.error
    await orchestrator.aclose()


async def test_a_catalog_put_in_place_is_the_one_routed_on_even_at_the_same_version() -> None:
    # the pools of candidates were cached by the catalog's version number alone: a new catalog of the same version
    # (two catalogs built alike) went on routing to the former catalog's models, which it does not hold
    from orchestratex import FunctionProvider, ModelCatalog, ModelProfile

    def catalog(*names: str) -> ModelCatalog:
        return ModelCatalog([ModelProfile(name=f"function:{n}", cost_per_1k_tokens=0.001) for n in names])

    first, second = catalog("a1", "a2"), catalog("b1", "b2")
    assert first.version == second.version
    provider = FunctionProvider(lambda r: '{"score": 9, "feedback": "ok"}' if r.purpose == "judge" else "42")
    orchestrator = Orchestrator(providers=[provider], catalog=first)
    assert [m.name for m in orchestrator.usable_models()] == ["function:a1", "function:a2"]
    orchestrator.catalog = second
    assert [m.name for m in orchestrator.usable_models()] == ["function:b1", "function:b2"]
    result = await orchestrator.run("Hello", max_iterations=1)
    assert result.final_model in ("function:b1", "function:b2")
    with pytest.raises(UserError, match=r"^catalog must be a ModelCatalog \(ModelCatalog.from_file\(path\) reads"):
        orchestrator.catalog = cast(Any, "models.toml")
    assert orchestrator.catalog is second
    await orchestrator.aclose()


async def test_a_provider_added_to_or_removed_from_a_built_orchestrator_counts_at_the_next_run() -> None:
    # the pools of candidates were kept while the catalog did not change: a provider added to `orchestrator.providers`
    # served none of its models ("unknown" to usable_models, refused as preferred), and one removed was still routed
    # to, each run failing with "ProviderNotConfigured: … set FUNCTION_API_KEY"
    from orchestratex import FunctionProvider, ModelCatalog, ModelProfile

    def answer(request: Any) -> str:
        return '{"score": 9, "feedback": "ok"}' if request.purpose == "judge" else "42"

    names = ("function:a", "function:b", "extra:c")
    catalog = ModelCatalog([ModelProfile(name=n, cost_per_1k_tokens=0.001) for n in names])
    orchestrator = Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog)
    assert [m.name for m in orchestrator.usable_models()] == ["function:a", "function:b"]
    orchestrator.providers["extra"] = FunctionProvider(answer, name="extra")
    assert [m.name for m in orchestrator.usable_models()] == list(names)
    result = await orchestrator.run("Hello", max_iterations=1, preferred_models=["extra:c"])
    assert (result.status, result.final_model) == ("completed", "extra:c")
    del orchestrator.providers["function"]
    assert [m.name for m in orchestrator.usable_models()] == ["extra:c"]
    assert [m.name for m in orchestrator.judge_models()] == ["extra:c"]
    await orchestrator.aclose()


async def test_handlers_set_on_a_built_orchestrator_are_taken_as_on_event_is() -> None:
    # `orchestrator.handlers = log` (a function where the list goes, as `on_event=log` takes it) failed each run with
    # "TypeError: Value after * must be an iterable, not function"; `[None]` logged a TypeError at every event
    from orchestratex import Event

    seen: list[str] = []

    def log(event: Event) -> None:
        seen.append(event.type)

    orchestrator = Orchestrator(providers=[SimulatedProvider(latency_scale=0)])
    with pytest.raises(UserError, match=r"^on_event must be a function taking an event .* not NoneType None$"):
        orchestrator.handlers = cast(Any, [None])
    orchestrator.handlers = log
    assert orchestrator.handlers == [log]
    result = await orchestrator.run("Hello", max_iterations=1)
    assert result.status == "completed" and seen[0] == "orchestration_started" and seen[-1] == "orchestration_completed"
    await orchestrator.aclose()


async def test_handlers_added_to_the_list_are_checked_as_on_event_is(caplog: pytest.LogCaptureFixture) -> None:
    # `orchestrator.handlers.append(None)` was taken: every event of every run then logged "'NoneType' object is not
    # callable" with a traceback; an appended generator function never ran, without a word
    from orchestratex import Event

    seen: list[str] = []

    def log(event: Event) -> None:
        seen.append(event.type)

    def gen(event: Event) -> Any:
        yield event

    orchestrator = Orchestrator(providers=[SimulatedProvider(latency_scale=0)])
    handlers = orchestrator.handlers
    refusals: list[tuple[Callable[[], object], str]] = [
        (lambda: handlers.append(cast(Any, None)), r"^handlers\.append: a handler must be .* not NoneType None$"),
        (lambda: handlers.append(gen), r"^handlers\.append: .*gen is a generator function"),
        (lambda: handlers.extend([log, cast(Any, "print")]), r"^handlers\.extend: .* not str 'print'$"),
        (lambda: handlers.insert(0, cast(Any, 5)), r"^handlers\.insert: .* not int 5$"),
    ]
    for refused, message in refusals:
        with pytest.raises(UserError, match=message):
            refused()
    with pytest.raises(UserError, match=r"^handlers\.extend: .* not NoneType None$"):
        orchestrator.handlers += cast(Any, [None])
    assert orchestrator.handlers == []  # (nothing half-added)
    handlers.append(log)
    with pytest.raises(UserError, match=r"^handlers: .* not NoneType None$"):
        handlers[0] = cast(Any, None)
    orchestrator.handlers += [print]
    assert orchestrator.handlers == [log, print]
    orchestrator.handlers.remove(print)
    result = await orchestrator.run("Hello", max_iterations=1)
    assert result.status == "completed" and seen[0] == "orchestration_started" and seen[-1] == "orchestration_completed"
    assert not [r for r in caplog.records if "failed on" in r.getMessage()]
    await orchestrator.aclose()


async def test_a_circuit_or_retry_policy_set_on_a_built_orchestrator_applies_to_its_next_runs() -> None:
    # `orchestrator.circuit = CircuitPolicy(failure_threshold=1)` (the constructor's `circuit=` takes a policy) replaced
    # the breaker itself: every run then failed with "AttributeError: 'CircuitPolicy' object has no attribute 'quiet'",
    # and `model_status` with "… no attribute 'state'"; `retry = 5` was taken, to fail at the first retry
    from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, ModelProfile
    from orchestratex.exceptions import ProviderServerError
    from orchestratex.orchestrator import CircuitPolicy, RetryPolicy

    def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "ok"}'
        if request.model.name == "function:flaky":
            raise ProviderServerError("down", status_code=503, model=request.model.name, provider="function")
        return "42"

    names = ("function:flaky", "function:steady", "function:judge")
    orchestrator = Orchestrator(
        providers=[FunctionProvider(answer)],
        catalog=ModelCatalog(  # (the flaky model the favourite, so it is called first)
            [ModelProfile(name=n, cost_per_1k_tokens=0.001, quality=9.5 if "flaky" in n else 5.0) for n in names]
        ),
        router=BayesianRouter(explore=False),
    )
    orchestrator.circuit = CircuitPolicy(failure_threshold=1, cooldown_s=600)
    orchestrator.retry = RetryPolicy(max_attempts=1)
    with pytest.raises(UserError, match=r"^retry must be like RetryPolicy\(max_attempts=3\), not int 5$"):
        orchestrator.retry = cast(Any, 5)
    with pytest.raises(UserError, match=r"^circuit must be like CircuitPolicy\(failure_threshold=5\), not int 5$"):
        orchestrator.circuit = cast(Any, 5)
    result = await orchestrator.run("Hello", max_iterations=1, preferred_models=["function:flaky", "function:steady"])
    assert (result.status, result.final_model) == ("completed", "function:steady"), result.error
    assert orchestrator.model_status("function:flaky") == "circuit_open"  # after one failure, as the policy says
    await orchestrator.aclose()


async def test_the_run_defaults_given_to_the_constructor_can_be_read_and_changed() -> None:
    # `orchestrator.max_iterations = 1` (or `evaluation_threshold`, `max_output_tokens`: the constructor's options)
    # made an attribute that no run read: runs went on with the constructor's values, with no error
    orchestrator = Orchestrator(providers=[SimulatedProvider(latency_scale=0)], max_iterations=4)
    assert (orchestrator.max_iterations, orchestrator.evaluation_threshold, orchestrator.max_output_tokens) == (
        4,
        8.0,
        2048,
    )
    orchestrator.max_iterations = 1
    orchestrator.evaluation_threshold = 10.0
    orchestrator.max_output_tokens = 300
    result = await orchestrator.run("Explain recursion")
    settings = result.orchestration.settings
    assert (settings.max_iterations, settings.evaluation_threshold, settings.max_output_tokens) == (1, 10.0, 300)
    assert result.iterations == 1
    session = await orchestrator.create_session("alice")
    assert session.max_iterations == 1
    with pytest.raises(UserError, match=r"^max_iterations: Input should be greater than or equal to 1$"):
        orchestrator.max_iterations = 0
    with pytest.raises(UserError, match=r"^evaluation_threshold must be a number, not str '9'$"):
        orchestrator.evaluation_threshold = cast(Any, "9")
    assert (orchestrator.max_iterations, orchestrator.evaluation_threshold) == (1, 10.0)
    await orchestrator.aclose()


async def test_an_output_cap_policy_set_on_a_built_orchestrator_caps_the_next_calls() -> None:
    # `orchestrator.output_cap = OutputCapPolicy(...)` (the constructor's option) made an attribute nothing read
    from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, ModelProfile, OutputCapPolicy

    caps: list[int] = []

    def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "ok"}'
        caps.append(request.max_output_tokens)
        return "a short answer"

    catalog = ModelCatalog(ModelProfile(name=f"function:{n}", cost_per_1k_tokens=0.001) for n in ("a", "b"))
    # (the router's favourite each time: exploring, it picked a, a, then b about once in 30 runs, and b's first call
    # was sent the full 1,000 tokens, as a model not observed yet is)
    orchestrator = Orchestrator(
        providers=[FunctionProvider(answer)],
        catalog=catalog,
        max_output_tokens=1000,
        router=BayesianRouter(explore=False),
    )
    orchestrator.output_cap = OutputCapPolicy(min_tokens=16, min_observations=1)
    assert orchestrator.output_cap == OutputCapPolicy(min_tokens=16, min_observations=1)
    for _ in range(3):
        await orchestrator.run("Hello", max_iterations=1)
    assert caps[0] == 1000 and caps[-1] < 1000  # learned from the short answers, as the policy set says
    with pytest.raises(UserError, match=r"^output_cap must be like OutputCapPolicy\(headroom=2.0\), not int 5$"):
        orchestrator.output_cap = cast(Any, 5)
    await orchestrator.aclose()


def test_a_store_put_in_place_is_opened_and_used_by_the_next_run(tmp_path: Path) -> None:
    # `orchestrator.store = "sqlite:///runs.db"` (as the constructor takes it) was kept as a str: every run failed with
    # "'str' object has no attribute 'create_session'"; a store object put in place after a run was never opened
    # ("SQLiteStore('runs.db') is not open"), and the router stayed attached to the former store
    import asyncio

    from orchestratex import SQLiteStore

    orchestrator = Orchestrator(providers=[SimulatedProvider(latency_scale=0)])
    orchestrator.run_sync("Hello", max_iterations=1)
    orchestrator.store = f"sqlite:///{tmp_path / 'runs.db'}"
    assert isinstance(orchestrator.store, SQLiteStore)
    result = orchestrator.run_sync("Hello again", max_iterations=1)
    given = SQLiteStore(tmp_path / "other.db")
    orchestrator.store = given
    other = orchestrator.run_sync("And again", max_iterations=1)
    with pytest.raises(UserError, match=r"^store must be a Store \(MemoryStore\(\), SQLiteStore\(path\), …\) or a"):
        orchestrator.store = cast(Any, 5)
    orchestrator.close()

    async def stored() -> tuple[str, str, int]:
        async with SQLiteStore(tmp_path / "runs.db") as first:
            status = (await first.get_orchestration(result.id)).status
            learned = sum(s.n for s in await first.routing_stats("bayesian"))
        await given.close()  # (a store given is the caller's to close, as with the constructor's store=)
        async with SQLiteStore(tmp_path / "other.db") as second:
            return status, (await second.get_orchestration(other.id)).status, learned

    assert asyncio.run(stored()) == ("completed", "completed", 1)


def test_parts_set_as_the_constructor_takes_them_pass_mypy_strict(tmp_path: Path) -> None:
    # `orchestrator.circuit = CircuitPolicy(...)` and `orchestrator.store = "sqlite:///runs.db"` work (see above), but
    # the attributes were typed `CircuitBreaker` and `Store`: mypy --strict refused the user's line ("Incompatible
    # types in assignment (expression has type "CircuitPolicy", variable has type "CircuitBreaker")"); so it did
    # `orchestrator.handlers = log` (a function alone, as `on_event=` takes it) and `orchestrator.retry = None`
    program = tmp_path / "user_code.py"
    program.write_text(
        "from orchestratex import CircuitPolicy, Event, Orchestrator, RetryPolicy, SQLiteStore\n"
        "from orchestratex.orchestrator._circuit import CircuitBreaker\n\n\n"
        "def log(event: Event) -> None:\n"
        "    print(event.type)\n\n\n"
        "orchestrator = Orchestrator()\n"
        "orchestrator.handlers = log\n"
        "orchestrator.handlers.append(log)\n"
        "orchestrator.retry = None\n"
        "orchestrator.store_retry = None\n"
        "policy: RetryPolicy = orchestrator.retry\n"
        "orchestrator.circuit = CircuitPolicy(failure_threshold=2)\n"
        "orchestrator.store = 'sqlite:///runs.db'\n"
        "orchestrator.store = SQLiteStore('runs.db')\n"
        "breaker: CircuitBreaker = orchestrator.circuit\n"
        "store: SQLiteStore | None = orchestrator.store if isinstance(orchestrator.store, SQLiteStore) else None\n",
        encoding="utf-8",
    )
    out, err, status = mypy_strict(program, cache_dir=tmp_path / ".mypy_cache")  # (this tree's package)
    assert status == 0, out + err


def test_a_store_the_orchestrator_made_is_closed_with_it_after_another_replaced_it(tmp_path: Path) -> None:
    # `Orchestrator(store="sqlite:///first.db")` then `orchestrator.store = "sqlite:///second.db"`: `close()` closed
    # only the second; the first stayed open (its connection and its threads alive, its -wal file kept) until the
    # process ended
    import asyncio
    import threading

    from orchestratex import MemoryStore, SQLiteStore
    from orchestratex.exceptions import StoreError

    orchestrator = Orchestrator(providers=[SimulatedProvider(latency_scale=0)], store=f"sqlite:///{tmp_path / 'a.db'}")
    first = orchestrator.run_sync("Hello", max_iterations=1)
    made = orchestrator.store
    orchestrator.store = f"sqlite:///{tmp_path / 'b.db'}"
    orchestrator.run_sync("Hello again", max_iterations=1)
    given = MemoryStore()  # (a store given is left to its owner, as ever)
    orchestrator.store = given
    orchestrator.close()
    assert isinstance(made, SQLiteStore)
    with pytest.raises(StoreError, match="is not open"):
        asyncio.run(made.get_orchestration(first.id))
    assert not [t.name for t in threading.enumerate() if str(tmp_path / "a.db") in t.name or t.name.endswith("a.db")]
    assert not (tmp_path / "a.db-wal").exists()


async def test_a_router_or_evaluator_replaced_while_a_run_is_in_flight_applies_from_the_next_run(
    tmp_path: Path,
) -> None:
    # the run in flight took the new router up at its next step: unattached to the store, it stored none of that
    # run's observations, and an unfitted `FittedRouter` (or an evaluator meant for later runs) changed a run begun
    # with another; the docs say a change applies from the next run
    import asyncio
    import json

    from orchestratex import FunctionProvider, ModelCatalog, ModelProfile, RoutingDecision
    from orchestratex.providers import GenerationRequest
    from orchestratex.routing import Task

    answered = asyncio.Event()
    go_on = asyncio.Event()

    async def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": 5.0, "feedback": "Say more."})
        if not answered.is_set():
            answered.set()
            await go_on.wait()
        return "An answer."

    class Later(BayesianRouter):
        """A router meant for the next runs: it counts what it is asked."""

        asked = 0

        async def select(self, task: Task, candidates: Any) -> RoutingDecision:
            type(self).asked += 1
            return await super().select(task, candidates)

    class LaterJudge(LLMJudgeEvaluator):
        asked = 0

        async def evaluate(self, task: Any, generation: Any) -> Any:
            type(self).asked += 1
            return await super().evaluate(task, generation)

    catalog = ModelCatalog([ModelProfile(name=f"function:{n}", cost_per_1k_tokens=0.001) for n in ("a", "b", "c")])
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    async with Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog, store=url) as orchestrator:
        first = orchestrator.router
        running = asyncio.create_task(orchestrator.run("Explain recursion", max_iterations=2, evaluation_threshold=9))
        await answered.wait()
        orchestrator.router = Later()
        orchestrator.evaluator = LaterJudge()
        go_on.set()
        result = await running
        assert result.status == "completed", result.error
        assert len(result.orchestration.iterations) == 2
        assert (Later.asked, LaterJudge.asked) == (0, 0)  # the run went on with what it began with
        stats = await orchestrator.store.routing_stats(first.name)
        assert sum(s.n for s in stats) == 2  # both of its judged answers, learned by the router it began with
        second = await orchestrator.run("Explain recursion again", max_iterations=1)
        assert second.status == "completed", second.error
        assert (Later.asked, LaterJudge.asked) == (1, 1)  # the next run takes them up


async def test_providers_replaced_by_a_list_are_filed_by_name_as_the_constructor_files_them() -> None:
    # `orchestrator.providers = [FunctionProvider(...)]` (a list, as `providers=` takes it) was kept as the list, and
    # every later run failed with "AttributeError: 'list' object has no attribute 'values'"
    from orchestratex import FunctionProvider, ModelCatalog, ModelProfile

    def old(request: Any) -> str:
        return '{"score": 9, "feedback": "ok"}' if request.purpose == "judge" else "old"

    def new(request: Any) -> str:
        return '{"score": 9, "feedback": "ok"}' if request.purpose == "judge" else "new"

    catalog = ModelCatalog([ModelProfile(name=n, cost_per_1k_tokens=0.001) for n in ("function:a", "function:b")])
    orchestrator = Orchestrator(providers=[FunctionProvider(old)], catalog=catalog)
    orchestrator.providers = cast(Any, [FunctionProvider(new)])
    assert list(orchestrator.providers) == ["function"]
    result = await orchestrator.run("Hello", max_iterations=1)
    assert (result.status, result.final_response) == ("completed", "new")
    with pytest.raises(UserError, match=r"^two providers are named 'function'"):
        orchestrator.providers = cast(Any, [FunctionProvider(old), FunctionProvider(new)])
    with pytest.raises(UserError, match=r"^providers must hold Provider objects .* not str 'function'"):
        orchestrator.providers = cast(Any, ["function"])
    with pytest.raises(UserError, match=r"^providers must be a list of providers"):
        orchestrator.providers = cast(Any, None)
    assert (
        await orchestrator.run("Hello", max_iterations=1)
    ).final_response == "new"  # the refused ones changed nothing
    await orchestrator.aclose()


def test_providers_set_as_the_constructor_takes_them_pass_mypy_strict(tmp_path: Path) -> None:
    # `orchestrator.providers = [FunctionProvider(...)]` works (see above), but the attribute was typed
    # `dict[str, Provider]`: mypy --strict refused the user's line ("Incompatible types in assignment (expression has
    # type "list[FunctionProvider]", variable has type "dict[str, Provider]")")
    program = tmp_path / "user_code.py"
    program.write_text(
        "from orchestratex import FunctionProvider, Orchestrator, SimulatedProvider\n"
        "from orchestratex.providers import GenerationRequest, Provider\n\n\n"
        "def answer(request: GenerationRequest) -> str:\n"
        "    return 'hi'\n\n\n"
        "orchestrator = Orchestrator(store='memory://')\n"
        "orchestrator.providers = [FunctionProvider(answer)]\n"
        "orchestrator.providers = (SimulatedProvider(), FunctionProvider(answer))\n"
        "orchestrator.providers = {'function': FunctionProvider(answer)}\n"
        "orchestrator.providers['sim'] = SimulatedProvider()\n"
        "served: dict[str, Provider] = orchestrator.providers\n",
        encoding="utf-8",
    )
    out, err, status = mypy_strict(program, cache_dir=tmp_path / ".mypy_cache")  # (this tree's package)
    assert status == 0, out + err


async def test_a_store_put_in_place_while_the_router_attaches_gets_the_router_attached_to_it() -> None:
    # the store was replaced while the first run attached the router to the former one: that run failed with
    # "'NoneType' object has no attribute 'set_result'", and the router was marked attached to the new store, which it
    # never read from nor learned into
    from orchestratex import MemoryStore
    from orchestratex.stores import Store

    gate = asyncio.Event()
    attached: list[Store] = []

    class Slow(BayesianRouter):
        async def attach(self, store: Store) -> None:
            attached.append(store)
            if len(attached) == 1:
                await gate.wait()
            await super().attach(store)

    first, second = MemoryStore(), MemoryStore()
    orchestrator = Orchestrator(providers=[SimulatedProvider(latency_scale=0)], store=first, router=Slow())
    run = asyncio.create_task(orchestrator.run("Hello", max_iterations=1))
    while not attached:
        await asyncio.sleep(0)
    orchestrator.store = second
    gate.set()
    result = await run
    assert result.status == "completed", result.error
    assert len(attached) == 2  # the second attach: to the store in place
    assert sum(s.n for s in await second.routing_stats("bayesian")) == 1  # learned into the store in place
    await orchestrator.aclose()


async def test_providers_put_in_place_say_whether_the_runs_are_simulated() -> None:
    # `Orchestrator()` without a key (the simulator), then real providers put in place: `simulated` stayed True, so
    # every answer they wrote (and paid for) was shown "(simulated)", in the result, its events and the repr; and the
    # other way round, simulated providers put in place of real ones were not said to be
    from orchestratex import FunctionProvider, ModelCatalog, ModelProfile

    def answer(request: Any) -> str:
        return '{"score": 9, "feedback": "ok"}' if request.purpose == "judge" else "a real answer"

    orchestrator = Orchestrator(providers=[SimulatedProvider(latency_scale=0)])
    assert orchestrator.simulated
    orchestrator.providers = [FunctionProvider(answer)]
    orchestrator.catalog = ModelCatalog(
        [ModelProfile(name=n, cost_per_1k_tokens=0.001) for n in ("function:a", "function:b")]
    )
    result = await orchestrator.run("Hello", max_iterations=1)
    assert (result.status, result.final_response) == ("completed", "a real answer")
    assert not result.simulated
    started = result.events[0]
    assert isinstance(started, OrchestrationStarted) and not started.simulated
    assert "simulated" not in repr(orchestrator)
    await orchestrator.aclose()

    orchestrator = Orchestrator(providers=[FunctionProvider(answer)], catalog=ModelCatalog.default().simulated())
    assert not orchestrator.simulated
    orchestrator.providers = {"sim": SimulatedProvider(latency_scale=0)}
    result = await orchestrator.run("Hello", max_iterations=1)
    assert result.status == "completed", result.error
    started = result.events[0]
    assert result.simulated and isinstance(started, OrchestrationStarted) and started.simulated
    assert repr(orchestrator).endswith("simulated=True)")
    await orchestrator.aclose()
