"""Every bad argument to the library's front door is refused up front with a `UserError` that says what to write:
never a bare `TypeError`, `AttributeError` or pydantic error from deep inside, and never accepted to fail later."""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from orchestratex import BayesianRouter, Event, ModelCatalog, Orchestrator, UserError
from orchestratex.exceptions import UnknownModelError
from orchestratex.orchestrator import CircuitPolicy, OutputCapPolicy, RetryPolicy


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: Orchestrator(simulate=True, catalog=cast(Any, 5)),
            r"catalog must be a ModelCatalog or the path .* not int",
        ),
        # the class where a catalog goes said "not type"
        (
            lambda: Orchestrator(simulate=True, catalog=cast(Any, ModelCatalog)),
            r"^catalog=ModelCatalog is the class, not a catalog: write catalog=ModelCatalog.default\(\) \(the shipped",
        ),
        (
            lambda: setattr(Orchestrator(simulate=True), "catalog", ModelCatalog),
            r"^catalog=ModelCatalog is the class, not a catalog: write catalog=ModelCatalog.default\(\)",
        ),
        (lambda: Orchestrator(simulate=True, store=cast(Any, 5)), r"store must be a Store .* or a store URL"),
        (lambda: Orchestrator(simulate=True, store="ftp://x"), r"no store is installed for ftp:// URLs"),
        (lambda: Orchestrator(simulate=True, on_event=cast(Any, 5)), r"on_event must be a function .* not int 5"),
        (lambda: Orchestrator(simulate=True, judge_max_output_tokens=0), r"judge_max_output_tokens must be"),
        # True was taken as 1 token per verdict; an env that is no mapping raised AttributeError: 'int' … 'get'
        (
            lambda: Orchestrator(simulate=True, judge_max_output_tokens=cast(Any, True)),
            r"^judge_max_output_tokens must be an int >= 1, not True$",
        ),
        (lambda: Orchestrator(env=cast(Any, 1)), r"^env must be a mapping of environment variables .*, not 1$"),
        # a name where a list of names goes: its letters matched no model, and an empty list came back
        (
            lambda: Orchestrator(simulate=True).usable_models(cast(Any, "gpt4")),
            r"^preferred must be a list of model names, not the string 'gpt4': \['gpt4'\]$",
        ),
        (lambda: Orchestrator(simulate=True).judge_models(cast(Any, "claude")), r"^judges must be a list of model"),
        (lambda: Orchestrator(simulate=True, max_iterations=cast(Any, True)), r"^max_iterations must be a number"),
        (lambda: Orchestrator(simulate=True, evaluation_threshold=cast(Any, "8")), r"^evaluation_threshold must be"),
        (lambda: Orchestrator(simulate=True, lease_ttl_s=-1), r"lease_ttl_s must be a finite number of seconds > 0"),
        (lambda: Orchestrator(simulate=True, lease_ttl_s=math.inf), r"lease_ttl_s must be a finite"),
        (lambda: Orchestrator(simulate=True, reservation_wait_s=math.nan), r"reservation_wait_s must be a finite"),
        (lambda: CircuitPolicy(failure_threshold=0), r"failure_threshold must be a whole number >= 1"),
        (lambda: CircuitPolicy(cooldown_s=-1), r"cooldown_s must be a finite number"),
        (lambda: OutputCapPolicy(headroom=math.nan), r"headroom must be a finite number >= 1, not nan"),
        (lambda: OutputCapPolicy(headroom=math.inf), r"headroom must be a finite number >= 1, not inf"),
        # `learn="no"` (from a config file) meant learning on; a quantile given as text raised a bare TypeError
        (lambda: OutputCapPolicy(learn=cast(Any, "no")), r"^learn must be True or False, not 'no'$"),
        (lambda: OutputCapPolicy(quantile=cast(Any, "0.9")), r"^quantile must be a number, not str '0.9'$"),
        (lambda: OutputCapPolicy(window=cast(Any, 2.5)), r"^window must be a whole number, not float 2.5$"),
        (lambda: OutputCapPolicy(min_tokens=cast(Any, True)), r"^min_tokens must be a whole number, not bool True$"),
        (lambda: RetryPolicy(max_wait=math.nan), r"initial_wait and max_wait must be finite"),
        (lambda: RetryPolicy(max_attempts=0), r"max_attempts must be a whole number >= 1"),
        # these were taken and failed in the first run (the run stored failed), or were used as they came
        (lambda: RetryPolicy(max_attempts=cast(Any, 1.5)), r"^max_attempts must be a whole number >= 1, not 1.5$"),
        (lambda: CircuitPolicy(failure_threshold=cast(Any, 1.5)), r"^failure_threshold must be a whole number >= 1"),
        (lambda: Orchestrator(simulate=True, router=cast(Any, 5)), r"^router must be like BayesianRouter\(\), not int"),
        (
            lambda: Orchestrator(simulate=True, router=cast(Any, BayesianRouter)),
            r"^router must be an instance, not the class BayesianRouter: write router=BayesianRouter\(\)$",
        ),
        (lambda: Orchestrator(simulate=True, evaluator=cast(Any, 5)), r"^evaluator must be like LLMJudgeEvaluator\(\)"),
        (lambda: Orchestrator(simulate=True, retry=cast(Any, 5)), r"^retry must be like RetryPolicy\("),
        (lambda: Orchestrator(simulate=True, store_retry=cast(Any, 5)), r"^store_retry must be like RetryPolicy\("),
        (lambda: Orchestrator(simulate=True, circuit=cast(Any, {"failure_threshold": 2})), r"^circuit must be like Ci"),
        (lambda: Orchestrator(simulate=True, output_cap=cast(Any, 5)), r"^output_cap must be like OutputCapPolicy\("),
        (lambda: Orchestrator(simulate=cast(Any, "yes")), r"^simulate must be like True \(the simulator\) or False"),
        (lambda: Orchestrator(simulate=True, system_prompt=cast(Any, 5)), r"^system_prompt must be like \"You are"),
        (lambda: Orchestrator(simulate=True, lease_ttl_s=cast(Any, "60")), r"^lease_ttl_s must be a finite number"),
        (lambda: Orchestrator(providers=cast(Any, "sim")), r"^providers must be a list of providers .* not 'sim'$"),
        (lambda: Orchestrator(providers=cast(Any, ["sim"])), r"^providers must hold Provider .* not str 'sim'$"),
        # a name that is no string (an unset variable's None) failed with AttributeError: 'NoneType' … 'strip'
        (
            lambda: Orchestrator(simulate=True, judges=cast(Any, [None])),
            r"^a model name is a string \(a name or an alias\), not NoneType None$",
        ),
        (
            lambda: Orchestrator(simulate=True).model_status(cast(Any, None)),
            r"^a model name is a string .* not NoneType",
        ),
        (lambda: Orchestrator(simulate=True).catalog.get(cast(Any, 5)), r"^a model name is a string .* not int 5$"),
    ],
)
def test_a_bad_setting_is_refused_when_it_is_made(make: Callable[[], Any], message: str) -> None:
    with pytest.raises(UserError, match=message) as raised:
        make()
    assert isinstance(raised.value, ValueError)  # a bad argument, for code that catches ValueError


def test_an_env_value_that_is_not_text_is_refused_without_showing_it() -> None:
    """`Orchestrator(env={"OPENAI_API_KEY": settings.openai_api_key})` with a pydantic `SecretStr` (or a number, or
    bytes) failed with "AttributeError: 'SecretStr' object has no attribute 'isspace'"."""
    from pydantic import SecretStr

    secret = "sk-do-not-show-me"
    for value, fix in ((SecretStr(secret), "value.get_secret_value()"), (secret.encode(), "its text"), (5, "its text")):
        with pytest.raises(
            UserError, match=r"^env\['OPENAI_API_KEY'\] must be text, as an environment variable's"
        ) as raised:
            Orchestrator(env=cast(Any, {"OPENAI_API_KEY": value}))
        assert str(raised.value).endswith(f"not {type(value).__name__}: pass {fix}") and secret not in str(raised.value)
    with pytest.raises(UserError, match=r"^env maps names of environment variables \(text\) to their values, not 5$"):
        Orchestrator(env=cast(Any, {5: "x"}))
    assert list(Orchestrator(env={"ORCHESTRATEX_SIM_SEED": "3"}).providers) == ["sim"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"preferred_models": "gpt4"}, r"preferred_models is a list of model names: write preferred_models=\['gpt4'\]"),
        ({"preferred_models": ["gpt4", None]}, r"^a model name is a string \(a name or an alias\), not NoneType None$"),
        ({"preferred_models": 5}, r"^preferred_models is a list of model names, not int 5$"),  # (a TypeError)
        (
            {"domain": 5},
            r"^domain must be a string \(one of coding, math, science, writing, analysis, general, or a name of your "
            r"own\), not int 5",
        ),
        ({"domain": "CODEING"}, r"^domain 'CODEING' looks like 'coding' misspelt: write 'coding'"),
        ({"context": ["a"]}, r"^context: Input should be a valid string"),
        ({"max_iteration": 2}, r"unknown option 'max_iteration': did you mean 'max_iterations'\?"),
        ({"bogus": 1}, r"unknown option 'bogus'; the options are on_event, session"),
        # another API's name for an option, or a setting of the orchestrator (difflib took `threshold` for `thread`)
        ({"threshold": 7}, r"^unknown option 'threshold': did you mean 'evaluation_threshold'\?$"),
        ({"stop": ["END"]}, r"^unknown option 'stop': did you mean 'stop_sequences'\?$"),
        ({"model": "gpt4"}, r"^unknown option 'model': did you mean 'preferred_models'\? \(a list: preferred_models="),
        ({"messages": []}, r"^unknown option 'messages': pass the conversation as the prompt"),
        ({"system_prompt": "Be brief"}, r"^unknown option 'system_prompt': put a system message first in the conv"),
        ({"judges": ["gpt4"]}, r"^unknown option 'judges': set them with Orchestrator\(judges=\[\.\.\.\]\) or create_"),
        ({"budget": 0.1}, r"^unknown option 'budget': did you mean 'cost_limit'\? \(US dollars\)$"),
        ({"on_event": 5}, r"on_event must be a function"),
        ({"on_event": [print, "x"]}, r"on_event must be a function .* not str 'x'"),
        ({"cost_limit": math.inf}, r"cost_limit: Input should be less than or equal to 1000000"),
        ({"cost_limit": 1e7}, r"cost_limit: Input should be less than or equal to 1000000"),
        ({"cost_limit": True}, r"^cost_limit must be a number, not bool True$"),  # (it was a $1 budget)
        ({"cost_limit": "0.1"}, r"^cost_limit must be a number, not str '0.1'$"),
        ({"max_iterations": True}, r"^max_iterations must be a number, not bool True$"),
        ({"max_output_tokens": "100"}, r"^max_output_tokens must be a number, not str '100'$"),
        ({"evaluation_threshold": False}, r"^evaluation_threshold must be a number, not bool False$"),
        ({"patience": True}, r"^patience must be a number, not bool True$"),
        ({"user_id": 5}, r"^user_id must be a string, not int 5$"),
        ({"session": 5}, r"^session must be a Session or a session id, not int 5$"),
        ({"thread": 5}, r"^thread must be a Thread or a thread id, not int 5$"),
        ({"on_event": None}, r"on_event must be a function .* not NoneType None$"),
    ],
)
@pytest.mark.parametrize("how", ["run", "run_stream"])
async def test_a_bad_run_option_is_refused_before_anything_is_stored(
    options: dict[str, Any], message: str, how: str, tmp_path: Path
) -> None:
    async with Orchestrator(simulate=True, store=f"sqlite:///{tmp_path / 'runs.db'}") as orch:
        with pytest.raises(UserError, match=message):
            if how == "run":
                await orch.run("Hello", **options)
            else:
                async for _ in orch.run_stream("Hello", **options):
                    pass
        assert await orch.store.list_resumable() == []
        sessions = await orch.store.list_sessions("local")
        assert [await orch.store.list_threads(s.id) for s in sessions] in ([], [[]])  # (a session, never a run)


async def test_a_store_url_gives_the_orchestrator_its_own_store(tmp_path: Path) -> None:
    async with Orchestrator(simulate=True, store=f"sqlite:///{tmp_path / 'runs.db'}") as orch:
        result = await orch.run("Hello", max_iterations=1)
    assert (tmp_path / "runs.db").exists() and result.status == "completed"
    async with Orchestrator(simulate=True, store=f"sqlite:///{tmp_path / 'runs.db'}") as again:
        assert (await again.store.get_orchestration(result.id)).status == "completed"


async def test_create_session_refuses_a_user_id_or_a_budget_of_the_wrong_type() -> None:
    async with Orchestrator(simulate=True) as orch:
        with pytest.raises(UserError, match=r"^user_id must be a string, not int 7$"):
            await orch.create_session(cast(Any, 7))
        with pytest.raises(UserError, match=r"^cost_limit must be a number, not bool True$"):
            await orch.create_session("alice", cost_limit=cast(Any, True))
        # a string was read letter by letter ("unknown model 'g'"), an empty list taken as every model
        with pytest.raises(UserError, match=r"^preferred_models is a list of model names: write preferred_models="):
            await orch.create_session("alice", preferred_models="gpt4")
        with pytest.raises(UserError, match=r"^preferred_models is empty: name at least one model or leave it unset"):
            await orch.create_session("alice", preferred_models=[])
        # stored, then every run of it refused: its only judge was the only model it routes to (here by an alias)
        with pytest.raises(UserError, match=r"^no model can judge the answers of sim:gpt-4.1: a judge must be another"):
            await orch.create_session("alice", preferred_models=["gpt4"], judges=["sim:gpt-4.1"])
        assert await orch.store.list_sessions("alice") == []
        await orch.create_session("alice", preferred_models=["gpt4", "claude"], judges=["gpt4"])  # claude's judged


async def test_create_thread_takes_the_session_itself_and_says_what_a_prompt_of_the_wrong_type_is() -> None:
    async with Orchestrator(simulate=True) as orch:
        session = await orch.create_session("alice")
        # a Session (as `run(session=...)` takes it) failed with "TypeError: unhashable type: 'Session'"
        thread = await orch.create_thread(session, "Summarise the causes of inflation", domain="analysis")
        assert thread.session_id == session.id and thread.user_id == "alice"
        result = await orch.run(thread.original_prompt, thread=thread, max_iterations=1)
        assert result.orchestration.thread_id == thread.id
        with pytest.raises(UserError, match=r"^session_id must be a session's id \(or the Session\), not NoneType$"):
            await orch.create_thread(cast(Any, None), "Hello")
        # a conversation or a number was refused as "the prompt is empty"
        with pytest.raises(UserError, match=r"^the prompt must be text \(a string\), not list$"):
            await orch.create_thread(session.id, cast(Any, [{"role": "user", "content": "Hello"}]))
        with pytest.raises(UserError, match=r"^the prompt must be text \(a string\), not int$"):
            await orch.create_thread(session.id, cast(Any, 42))
        with pytest.raises(UserError, match=r"^the prompt is empty: give the text to orchestrate$"):
            await orch.create_thread(session.id, "  ")
        # a context that is no text raised pydantic's ValidationError ("1 validation error for Thread"), where
        # `run(context=...)` refuses it as a UserError
        with pytest.raises(UserError, match=r"^context: Input should be a valid string$"):
            await orch.create_thread(session.id, "Hello", context=cast(Any, 5))
        assert [t.id for t in await orch.store.list_threads(session.id)] == [thread.id]


async def test_a_session_or_thread_given_the_id_of_another_kind_of_record_says_which_it_is() -> None:
    """`run(..., session=result.orchestration.thread_id)` (an `Orchestration` carries the three ids) said only "no
    session '…'", as for an id that exists nowhere; the REST API says which record the id is."""
    from orchestratex.exceptions import NotFound

    async with Orchestrator(simulate=True) as orch:
        orch.providers["sim"].latency_scale = 0  # type: ignore[attr-defined]
        first = (await orch.run("What is TCP?", max_iterations=1)).orchestration
        with pytest.raises(
            NotFound, match=rf"^no session '{first.thread_id}': it is a thread's id: pass it as thread="
        ):
            await orch.run("And UDP?", session=first.thread_id, max_iterations=1)
        with pytest.raises(NotFound, match=rf"^no thread '{first.session_id}': it is a session's id: pass it as sess"):
            await orch.run("And UDP?", thread=first.session_id, max_iterations=1)
        with pytest.raises(NotFound, match=rf"^no session '{first.id}': it is an orchestration's id: its session's is"):
            await orch.create_thread(first.id, "And UDP?")
        with pytest.raises(NotFound, match=r"^no session '0{24}'$"):  # (an id of nothing: as before)
            await orch.run("And UDP?", session="0" * 24, max_iterations=1)
        follow_up = await orch.run("And UDP?", thread=first.thread_id, max_iterations=1)  # as the message says
        assert follow_up.orchestration.session_id == first.session_id
        assert len(await orch.store.list_sessions("local")) == 1  # the refused runs stored nothing


def test_a_retry_sleep_that_is_a_plain_function_records_the_waits_instead_of_failing_the_run() -> None:
    from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, ModelProfile
    from orchestratex.exceptions import RateLimited

    calls: list[str] = []

    def flaky(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9.5, "feedback": "Fine."}'
        calls.append(request.model.name)
        if len(calls) == 1:
            raise RateLimited("slow down", retry_after=2.0, model=request.model.name, provider="function")
        return "Recovered."

    waits: list[float] = []
    catalog = ModelCatalog(ModelProfile(name=f"function:{n}", cost_per_1k_tokens=0.001) for n in ("a", "b"))
    # the first retry failed the run with "TypeError: object NoneType can't be used in 'await' expression"
    retry = RetryPolicy(max_attempts=3, sleep=waits.append)
    with Orchestrator(providers=[FunctionProvider(flaky)], catalog=catalog, retry=retry) as orchestrator:
        result = orchestrator.run_sync("Anything")
    assert result.status == "completed" and result.final_response == "Recovered."
    assert len(calls) == 2 and waits and waits[0] >= 2.0
    with pytest.raises(UserError, match=r"^sleep must be a function taking the seconds to wait, not 0.5$"):
        RetryPolicy(sleep=cast(Any, 0.5))


def test_simulate_contradicted_by_the_providers_given_is_refused() -> None:
    # `simulate=` was silently ignored when `providers=` was given: `simulate=True` with a real adapter ran (and paid
    # for) real calls, and `simulate=False` with only the simulator ran simulated.
    from orchestratex import FunctionProvider, ModelCatalog, ModelProfile, SimulatedProvider
    from orchestratex_openai import OpenAIProvider

    with pytest.raises(
        UserError, match=r"^simulate=True, but providers= gives providers that are not simulated \(openai"
    ):
        Orchestrator(simulate=True, providers=[OpenAIProvider(api_key="sk-test")])
    catalog = ModelCatalog([ModelProfile(name="function:a", cost_per_1k_tokens=0.001)])
    with pytest.raises(UserError, match=r"not simulated \(function\)"):
        Orchestrator(simulate=True, providers=[FunctionProvider(lambda request: "x")], catalog=catalog)
    with pytest.raises(UserError, match=r"^simulate=False, but providers= gives only simulated ones \(sim\)"):
        Orchestrator(simulate=False, providers=[SimulatedProvider()])
    # an empty list was taken, and each run then failed saying to "use the simulated models
    # (Orchestrator(simulate=True))", as given
    with pytest.raises(UserError, match=r"^simulate=True, but providers= is empty: .*Leave providers out to simulate"):
        Orchestrator(simulate=True, providers=[])
    with pytest.raises(UserError, match=r"^simulate=True, but providers= is empty"):
        Orchestrator(simulate=True, providers={})
    assert Orchestrator(simulate=True, providers=[SimulatedProvider()]).simulated
    assert not Orchestrator(
        simulate=False, providers=[FunctionProvider(lambda request: "x")], catalog=catalog
    ).simulated


def test_usable_models_and_judge_models_list_every_model_when_called_without_a_list() -> None:
    # `orchestrator.usable_models()` (what can I route to?) failed with "TypeError: missing 1 required positional
    # argument: 'preferred'", while `judge_models()` answered.
    orchestrator = Orchestrator(simulate=True)
    usable = orchestrator.usable_models()
    assert usable == orchestrator.usable_models(None) and "sim:gpt-4.1" in [m.name for m in usable]
    assert [m.name for m in orchestrator.usable_models(["gpt4"])] == ["sim:gpt-4.1"]
    assert len(orchestrator.judge_models()) == len(usable)


def test_usable_models_refuses_a_name_the_catalog_does_not_know() -> None:
    # `usable_models(["gtp4"])` (a typo) answered [] without a word, and `usable_models(["gpt4", "gtp4"])` the one
    # model, as if the other were merely unusable; a run given those `preferred_models` says UnknownModelError
    orchestrator = Orchestrator(simulate=True)
    with pytest.raises(UnknownModelError, match=r"^unknown model 'gtp4'"):
        orchestrator.usable_models(["gtp4"])
    with pytest.raises(UnknownModelError, match=r"^unknown model 'gtp4'"):
        orchestrator.usable_models(["gpt4", "gtp4"])
    with pytest.raises(UnknownModelError, match=r"^unknown model 'gtp4'"):
        orchestrator.run_sync("Hello", preferred_models=["gpt4", "gtp4"])
    assert [m.name for m in orchestrator.usable_models(["gpt4", "claude"])] == ["sim:gpt-4.1", "sim:claude-sonnet-5-5"]
    orchestrator.catalog.set_status("gpt4", "disabled")  # known but not usable: left out, as before
    assert [m.name for m in orchestrator.usable_models(["gpt4", "claude"])] == ["sim:claude-sonnet-5-5"]
    orchestrator.close()


def test_model_names_given_as_a_generator_or_an_array_are_read_once() -> None:
    # `usable_models(name for name in ...)` used the generator up checking its names, answered [] and kept that empty
    # pool for every later run, which then failed ("no model is available"), or was refused ("no model can judge the
    # answers of …"), until the catalog changed; `judge_models(iter([...]))` alike. A numpy array of names (a
    # notebook's `df["model"].unique()`) failed every call taking names with "The truth value of an array with more
    # than one element is ambiguous".
    np = pytest.importorskip("numpy")
    from orchestratex import FunctionProvider, GenerationRequest, ModelProfile

    def answer(request: GenerationRequest) -> str:
        return '{"score": 9, "feedback": "ok"}' if request.purpose == "judge" else "42"

    names = ["function:a", "function:b", "function:c"]
    catalog = ModelCatalog([ModelProfile(name=n, cost_per_1k_tokens=0.001) for n in names])
    orchestrator = Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog)
    assert [m.name for m in orchestrator.usable_models(cast(Any, (n for n in names[:1])))] == names[:1]
    assert [m.name for m in orchestrator.judge_models(cast(Any, iter(names[1:])))] == names[1:]
    assert [m.name for m in orchestrator.usable_models()] == names
    assert [m.name for m in orchestrator.judge_models()] == names
    assert orchestrator.run_sync("Hello", max_iterations=1).status == "completed"

    two = np.array(names[:2])
    assert [m.name for m in orchestrator.usable_models(two)] == names[:2]
    assert [m.name for m in orchestrator.judge_models(two)] == names[:2]
    result = orchestrator.run_sync("Hello", max_iterations=1, preferred_models=two)
    assert result.status == "completed" and result.final_model in names[:2]
    session = asyncio.run(orchestrator.create_session("u", preferred_models=two, judges=np.array(names[1:])))
    assert (session.settings.preferred_models, session.settings.judges) == (names[:2], names[1:])
    orchestrator.judges = np.array(names[1:])
    assert orchestrator.judges == names[1:]
    with pytest.raises(UserError, match=r"^preferred_models is empty"):
        orchestrator.run_sync("Hello", preferred_models=np.array([], dtype=str))
    orchestrator.close()


def test_judge_models_refuses_a_name_the_catalog_does_not_know() -> None:
    # `judge_models(["gtp4"])` answered [] without a word, as `usable_models` did
    orchestrator = Orchestrator(simulate=True)
    with pytest.raises(UnknownModelError, match=r"^unknown model 'gtp4'"):
        orchestrator.judge_models(["claude", "gtp4"])
    assert [m.name for m in orchestrator.judge_models(["claude"])] == ["sim:claude-sonnet-5-5"]
    orchestrator.catalog.remove("claude")  # a session's stored judge removed since: left out of its runs' judges
    assert orchestrator._judge_pool(["sim:claude-sonnet-5-5"]) == []
    orchestrator.close()


def test_a_model_named_twice_by_its_alias_and_its_name_is_kept_once() -> None:
    # `preferred_models=["gpt4", "sim:gpt-4.1"]` (an alias and its model's full name) was stored, shown by the REST
    # API and listed in the session as ["sim:gpt-4.1", "sim:gpt-4.1"]; `judges=` alike
    orchestrator = Orchestrator(simulate=True, judges=["claude", "sim:claude-sonnet-5-5", "claude"])
    assert orchestrator.judges == ["sim:claude-sonnet-5-5"]
    orchestrator.judges = ["gpt4", "claude", "sim:gpt-4.1"]
    assert orchestrator.judges == ["sim:gpt-4.1", "sim:claude-sonnet-5-5"]
    result = orchestrator.run_sync("Hello", preferred_models=["gpt4", "sim:gpt-4.1", "claude"], max_iterations=1)
    assert result.orchestration.settings.preferred_models == ["sim:gpt-4.1", "sim:claude-sonnet-5-5"]
    session = asyncio.run(
        orchestrator.create_session(preferred_models=["gpt4", "sim:gpt-4.1"], judges=["claude", "claude"])
    )
    assert (session.settings.preferred_models, session.settings.judges) == (["sim:gpt-4.1"], ["sim:claude-sonnet-5-5"])
    orchestrator.close()


def test_an_empty_list_of_judges_or_models_is_refused_as_the_runs_and_the_constructor_refuse_it() -> None:
    # `judge_models([])` answered every model (and `usable_models([])` too), while `Orchestrator(judges=[])`,
    # `create_session(judges=[])` and `run(preferred_models=[])` are refused: a list filtered down to nothing looked
    # like every model could judge (or answer)
    np = pytest.importorskip("numpy")
    orchestrator = Orchestrator(simulate=True)
    empties: list[Any] = [[], (), np.array([], dtype=str)]
    for empty in empties:
        with pytest.raises(UserError, match=r"^judges is empty: name at least one model, or leave it unset"):
            orchestrator.judge_models(empty)
        with pytest.raises(UserError, match=r"^preferred is empty: name at least one model, or leave it unset"):
            orchestrator.usable_models(empty)
    with pytest.raises(UserError, match=r"^judges must be a non-empty list"):
        Orchestrator(simulate=True, judges=[])
    assert len(orchestrator.judge_models(None)) == len(orchestrator.usable_models(None)) > 1
    orchestrator.close()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("cancel_check_s", 0, r"^cancel_check_s must be a finite number of seconds > 0, not 0$"),
        ("cancel_check_s", "1", r"^cancel_check_s must be a finite number of seconds > 0, not '1'$"),
        ("lease_ttl_s", -1, r"^lease_ttl_s must be a finite number of seconds > 0"),
        ("reservation_wait_s", math.nan, r"^reservation_wait_s must be a finite number of seconds >= 0"),
        ("judge_max_output_tokens", True, r"^judge_max_output_tokens must be an int >= 1, not True$"),
        ("judging", "sometimes", r"^judging must be 'always', 'when_needed' or 'when_possible', not 'sometimes'$"),
        ("system_prompt", None, r"^system_prompt must be a string \(\"\" for none\), not NoneType None$"),
    ],
)
def test_a_setting_changed_on_a_built_orchestrator_is_checked(name: str, value: object, message: str) -> None:
    # `orchestrator.cancel_check_s = 0` (docs/orchestrator.md names it) polled the store in a busy loop, a core at
    # 100 % while runs were in flight; "1" failed deep inside a run with a TypeError; `judging = "sometimes"` was taken
    # as "when_needed"; `system_prompt = None` failed each run with an AttributeError.
    orchestrator = Orchestrator(simulate=True)
    before = getattr(orchestrator, name)
    with pytest.raises(UserError, match=message):
        setattr(orchestrator, name, value)
    assert getattr(orchestrator, name) == before
    orchestrator.cancel_check_s = 0.05  # a valid change is taken
    orchestrator.judging = "when_needed"
    assert (orchestrator.cancel_check_s, orchestrator.judging) == (0.05, "when_needed")


async def test_judges_set_on_a_built_orchestrator_are_resolved_as_the_constructors_are() -> None:
    # `orchestrator.judges = ["claud"]` (a typo) was taken, and each run then failed before any call with "no model
    # can judge the answers of sim:gpt-6.2-astra, …", naming every model but the name at fault
    orchestrator = Orchestrator(simulate=True)
    with pytest.raises(UserError, match=r"^unknown model 'claud'; known models: "):
        orchestrator.judges = ["claud"]
    with pytest.raises(UserError, match=r"^judges must be a non-empty list of model names"):
        orchestrator.judges = cast(Any, "claude")
    assert orchestrator.judges is None
    orchestrator.judges = ["claude"]  # an alias, kept as the catalog's name
    assert orchestrator.judges == ["sim:claude-sonnet-5-5"]
    result = await orchestrator.run("Hello", max_iterations=1, preferred_models=["gpt4"])
    assert result.status == "completed", result.error
    evaluation = result.orchestration.iterations[0].evaluation
    assert evaluation is not None and evaluation.judge_models == ["sim:claude-sonnet-5-5"]
    await orchestrator.aclose()


def test_a_router_or_evaluator_of_ones_own_with_a_plain_def_is_refused_when_given() -> None:
    # A custom router whose `select` (or an evaluator whose `evaluate`) was written without `async` was accepted; every
    # run then failed "unexpectedly" with "TypeError: object RoutingDecision can't be used in 'await' expression".
    from collections.abc import Sequence

    from orchestratex import Evaluation, EvaluationTask, Evaluator, Generation, ModelProfile, Router, RoutingDecision
    from orchestratex.routing import Task

    class FirstModel(Router):
        def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:  # type: ignore[override]
            return RoutingDecision(model_name=candidates[0].name, reasoning="first")

    class Always9(Evaluator):
        def evaluate(self, task: EvaluationTask, response: Generation) -> Evaluation:  # type: ignore[override]
            return Evaluation(score=9.0, feedback="ok", judge_models=["rubric"])

    with pytest.raises(UserError, match=r"^FirstModel\.select must be a coroutine function, .* `async def select\("):
        Orchestrator(simulate=True, router=FirstModel())
    with pytest.raises(UserError, match=r"^Always9\.evaluate must be a coroutine function, .* `async def evaluate\("):
        Orchestrator(simulate=True, evaluator=Always9())

    class AsyncFirst(Router):
        async def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
            return RoutingDecision(model_name=candidates[0].name, reasoning="first")

    assert Orchestrator(simulate=True, router=AsyncFirst()).run_sync("Hello", max_iterations=1).status == "completed"


def test_a_learning_router_with_an_async_update_or_restore_is_refused_when_given() -> None:
    # `async def update` (or `restore`) was taken: `observe` and `attach` call them without awaiting them, so the
    # router learned nothing from its runs (or restored nothing after a restart) while its outcomes were stored.
    from collections.abc import Sequence

    from orchestratex import ModelProfile, RoutingDecision
    from orchestratex.routing import LearningRouter, RoutingFeedback, Task
    from orchestratex.stores import RoutingStat

    class Learns(LearningRouter):
        name = "learns"

        def __init__(self) -> None:
            self.seen = 0

        async def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
            return RoutingDecision(model_name=candidates[0].name, reasoning="first")

        def update(self, feedback: RoutingFeedback) -> None:
            self.seen += 1

        def restore(self, stats: Sequence[RoutingStat]) -> None:
            self.seen += sum(s.n for s in stats)

    class AsyncUpdate(Learns):
        async def update(self, feedback: RoutingFeedback) -> None:  # type: ignore[override]
            self.seen += 1

    class AsyncRestore(Learns):
        async def restore(self, stats: Sequence[RoutingStat]) -> None:  # type: ignore[override]
            self.seen += sum(s.n for s in stats)

    with pytest.raises(
        UserError,
        match=r"^AsyncUpdate\.update must be a plain function, as LearningRouter\.observe calls it without awaiting it"
        r" \(an `async def update` never runs\): write `def update\(self, feedback\)`$",
    ):
        Orchestrator(simulate=True, router=AsyncUpdate())
    with pytest.raises(
        UserError, match=r"^AsyncRestore\.restore must be a plain function, .* `def restore\(self, stats\)`"
    ):
        Orchestrator(simulate=True, router=AsyncRestore())

    class AsyncForget(Learns):
        async def forget(self) -> None:  # type: ignore[override]
            self.seen = 0

    with pytest.raises(UserError, match=r"^AsyncForget\.forget must be a plain function, .* `def forget\(self\)`"):
        Orchestrator(simulate=True, router=AsyncForget())
    router = Learns()
    assert Orchestrator(simulate=True, router=router).run_sync("Hello", max_iterations=1).status == "completed"
    assert router.seen == 1


def test_a_provider_class_given_for_an_instance_says_to_make_one() -> None:
    # `providers=[SimulatedProvider]` said "providers must hold Provider objects (…), not ABCMeta <class
    # 'orchestratex.providers.simulated._provider.SimulatedProvider'>", as a router class given says what to write
    from orchestratex import SimulatedProvider

    for given in ([SimulatedProvider], {"sim": SimulatedProvider}):
        with pytest.raises(
            UserError,
            match=r"^providers must hold Provider instances, not the class SimulatedProvider: write "
            r"providers=\[SimulatedProvider\(\)\]$",
        ):
            Orchestrator(providers=cast(Any, given))


def test_a_provider_of_ones_own_with_a_plain_def_generate_is_refused_when_given() -> None:
    # A provider whose `generate` was written without `async` (as a router's `select` was) was taken; every run then
    # failed "unexpectedly" with "TypeError: object Generation can't be used in 'await' expression", stored failed.
    from orchestratex import (
        FunctionProvider,
        Generation,
        GenerationRequest,
        ModelCatalog,
        ModelProfile,
        Provider,
        Usage,
    )

    class Echo(Provider):
        name = "echo"

        def generate(self, request: GenerationRequest) -> Generation:  # type: ignore[override]
            return Generation(text="x", usage=Usage(input_tokens=1, output_tokens=1))

    class Streaming(Provider):
        name = "echo"

        async def generate(self, request: GenerationRequest) -> Generation:
            return Generation(text="x", usage=Usage(input_tokens=1, output_tokens=1))

        def generate_stream(self, request: GenerationRequest, on_text: Any) -> Generation:  # type: ignore[override]
            return Generation(text="x", usage=Usage(input_tokens=1, output_tokens=1))

    catalog = ModelCatalog([ModelProfile(name=f"echo:{n}", cost_per_1k_tokens=0.001) for n in "ab"])
    with pytest.raises(UserError, match=r"^Echo\.generate must be a coroutine function, .* `async def generate\("):
        Orchestrator(providers=[Echo()], catalog=catalog)
    with pytest.raises(UserError, match=r"^Echo\.generate must be a coroutine function"):
        Orchestrator(providers={"echo": Echo()}, catalog=catalog)
    with pytest.raises(UserError, match=r"^Streaming\.generate_stream must be a coroutine function"):
        Orchestrator(providers=[Streaming()], catalog=catalog)
    orchestrator = Orchestrator(providers=[FunctionProvider(lambda r: "x")], catalog=catalog)  # (its own plain def)
    with pytest.raises(UserError, match=r"^Echo\.generate must be a coroutine function"):
        orchestrator.providers = cast(Any, [Echo()])


async def test_a_session_routing_only_to_the_orchestrators_only_judge_is_refused_when_created() -> None:
    # With `Orchestrator(judges=["gpt4"])`, `create_session(preferred_models=["gpt4"])` was stored (the check read the
    # session's own judges only), then every run of it was refused: "no model can judge the answers of sim:gpt-4.1".
    async with Orchestrator(simulate=True, judges=["gpt4"]) as orch:
        with pytest.raises(UserError, match=r"^no model can judge the answers of sim:gpt-4.1: .*or the orchestrator's"):
            await orch.create_session("alice", preferred_models=["gpt4"])
        assert await orch.store.list_sessions("alice") == []
        session = await orch.create_session("alice", preferred_models=["gpt4"], judges=["claude"])  # its own judge
        assert (await orch.run("Hello", session=session, max_iterations=1)).status == "completed"


async def _events_as_they_come(event: Event) -> AsyncIterator[Event]:
    yield event


def _each_event(event: Event) -> Iterator[Event]:
    yield event


@pytest.mark.parametrize("handler", [_events_as_they_come, _each_event, functools.partial(_each_event)])
async def test_a_generator_function_given_as_an_event_handler_is_refused(handler: Any) -> None:
    # `async def on_event(event): … yield event` was taken: called with each event, it made a generator that nothing
    # ran, so its body never ran, without a word (nor a warning)
    message = r"^on_event: _(events_as_they_come|each_event) is a generator function: called with each event, it"
    with pytest.raises(UserError, match=message):
        Orchestrator(simulate=True, on_event=handler)
    orchestrator = Orchestrator(simulate=True)
    with pytest.raises(UserError, match=message):
        await orchestrator.run("Hello", on_event=[print, handler])
    with pytest.raises(UserError, match=message):
        orchestrator.handlers = handler
    assert orchestrator.handlers == []
    await orchestrator.aclose()


def test_model_lists_that_are_no_lists_are_refused_saying_so() -> None:
    # `Orchestrator(judges=5)`, `create_session(preferred_models=5)` and `usable_models(5)` raised "TypeError: 'int'
    # object is not iterable"
    with pytest.raises(UserError, match=r"^judges must be a non-empty list of model names .*, not int 5$"):
        Orchestrator(simulate=True, judges=cast(Any, 5))
    orchestrator = Orchestrator(simulate=True)
    with pytest.raises(UserError, match=r"^judges must be a non-empty list of model names .*, not int 5$"):
        orchestrator.judges = cast(Any, 5)
    with pytest.raises(UserError, match=r"^preferred must be a list of model names, not int 5$"):
        orchestrator.usable_models(cast(Any, 5))
    with pytest.raises(UserError, match=r"^judges must be a list of model names, not int 5$"):
        orchestrator.judge_models(cast(Any, 5))
    with pytest.raises(UserError, match=r"^preferred_models is a list of model names, not int 5$"):
        orchestrator._portal.call(orchestrator.create_session("alice", preferred_models=cast(Any, 5)))
    with pytest.raises(UserError, match=r"^judges must be a non-empty list of model names .*, not int 5$"):
        orchestrator._portal.call(orchestrator.create_session("alice", judges=cast(Any, 5)))
    orchestrator.close()


def test_numpy_numbers_are_taken_by_the_policies_and_settings_as_by_the_run_options(tmp_path: Path) -> None:
    # a notebook's grid (`for attempts in np.arange(1, 4)`) or a dataframe's cell: `run(max_iterations=np.int64(3))`
    # and the routers took numpy's numbers, but `RetryPolicy(max_attempts=np.int64(3))` said "max_attempts must be a
    # whole number >= 1, not np.int64(3)", as did CircuitPolicy, OutputCapPolicy, `judge_max_output_tokens`,
    # `SimulatedProvider(seed=...)` and `resume_pending(limit=...)`; `np.float32` seconds were "not a number"
    np = pytest.importorskip("numpy")
    from orchestratex import SimulatedProvider

    retry = RetryPolicy(max_attempts=np.int64(3), initial_wait=np.float32(0.5), max_wait=np.int32(30))
    assert (retry.max_attempts, retry.initial_wait, retry.max_wait) == (3, 0.5, 30)
    assert all(type(v) in (int, float) for v in (retry.max_attempts, retry.initial_wait, retry.max_wait))
    circuit = CircuitPolicy(failure_threshold=np.int64(2), cooldown_s=np.float32(5))
    assert (circuit.failure_threshold, circuit.cooldown_s) == (2, 5.0) and type(circuit.failure_threshold) is int
    cap = OutputCapPolicy(quantile=np.float32(0.5), headroom=np.float64(2), min_observations=np.int64(3))
    assert (cap.quantile, cap.headroom, cap.min_observations) == (0.5, 2.0, 3) and type(cap.quantile) is float
    simulator = SimulatedProvider(seed=np.int64(4), latency_scale=np.float32(0), judge_noise=np.int64(1))
    assert simulator.seed == 4 and type(simulator.seed) is int
    assert (simulator.latency_scale, simulator.judge_noise) == (0.0, 1.0) and type(simulator.judge_noise) is float
    orchestrator = Orchestrator(
        providers=[simulator],
        retry=retry,
        circuit=circuit,
        output_cap=cap,
        judge_max_output_tokens=np.int64(300),
        lease_ttl_s=np.float32(30),
        reservation_wait_s=np.int64(1),
        store=f"sqlite:///{tmp_path / 'runs.db'}",
    )
    assert (orchestrator.judge_max_output_tokens, orchestrator.lease_ttl_s, orchestrator.reservation_wait_s) == (
        300,
        30.0,
        1,
    )
    assert type(orchestrator.judge_max_output_tokens) is int and type(orchestrator.lease_ttl_s) is float
    assert orchestrator.run_sync("Hello", max_iterations=1).status == "completed"
    assert asyncio.run(orchestrator.resume_pending(limit=np.int64(5), concurrency=np.int64(2))) == []
    with pytest.raises(UserError, match=r"^max_attempts must be a whole number >= 1, not np.float64\(3.0\)$"):
        RetryPolicy(max_attempts=np.float64(3))
    with pytest.raises(UserError, match=r"^judge_max_output_tokens must be an int >= 1, not True$"):
        orchestrator.judge_max_output_tokens = True
    orchestrator.close()
