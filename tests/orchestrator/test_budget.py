"""Reservations close to reality with the guarantee kept: output caps sent to the provider, exact input
counts where the provider has them, concurrent runs that wait for reservations, spent <= cost_limit."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestratex import (
    BayesianRouter,
    FunctionProvider,
    Generation,
    GenerationRequest,
    MemoryStore,
    ModelCatalog,
    ModelProfile,
    Orchestrator,
    OutputCapPolicy,
    RunResult,
    Usage,
)
from orchestratex.providers import estimate_input_tokens

from ..helpers import NO_WAIT

PROMPT = "Summarise the plot of Hamlet in three sentences, naming the main characters."


def chars4(request: GenerationRequest) -> int:
    """A stand-in tokenizer: four characters a token, rounded up (what the answers below bill)."""
    return sum(math.ceil(len(m.content) / 4) for m in request.messages)


def answering(lengths: dict[str, int], sent: list[tuple[str, str, int]]) -> FunctionProvider:
    """Answers with `lengths[model]` output tokens (never more than the cap it is sent), verdicts of 9."""

    def fn(request: GenerationRequest) -> Generation:
        sent.append((request.model.name, request.purpose, request.max_output_tokens))
        if request.purpose == "judge":
            text, out = json.dumps({"score": 9, "feedback": "good"}), 40
        else:
            out = min(lengths.get(request.model.name, 300), request.max_output_tokens)
            text = "word " * out
        return Generation(
            text=text,
            usage=Usage(input_tokens=chars4(request), output_tokens=min(out, request.max_output_tokens)),
            finish_reason="length" if out >= request.max_output_tokens else "stop",
        )

    return FunctionProvider(fn, count_tokens=chars4)


def gpt41_like() -> ModelCatalog:
    return ModelCatalog(
        [
            ModelProfile(name="function:strong", input_cost_per_1k=0.002, output_cost_per_1k=0.008, quality=9.0),
            ModelProfile(
                name="function:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0004, quality=7.8, judge_only=True
            ),
        ]
    )


async def test_a_cent_buys_a_model_whose_real_worst_case_fits() -> None:
    sent: list[tuple[str, str, int]] = []
    catalog = gpt41_like()
    orch = Orchestrator(providers=[answering({}, sent)], catalog=catalog, retry=NO_WAIT)
    strong = catalog.get("strong")
    # the old bound (UTF-8 bytes in, the full 2,048-token output at the output price) did not fit a cent
    probe = GenerationRequest(model=strong, messages=[], max_output_tokens=2048)
    assert strong.worst_case_cost(estimate_input_tokens(probe) + len(PROMPT), 2048) > 0.01
    result = await orch.run(PROMPT, cost_limit=0.01, max_iterations=1)
    assert result.status == "completed" and result.final_model == "function:strong"
    (_, _, cap), judge_call = sent[0], sent[1]
    assert 256 <= cap < 2048  # the cap the budget can pay for, sent to the provider
    assert judge_call[0] == "function:judge"
    assert result.total_cost <= 0.01


async def test_the_cap_follows_observed_output_lengths() -> None:
    sent: list[tuple[str, str, int]] = []
    orch = Orchestrator(
        providers=[answering({"function:strong": 300}, sent)],
        catalog=gpt41_like(),
        retry=NO_WAIT,
        output_cap=OutputCapPolicy(min_observations=3),
    )
    for _ in range(4):
        await orch.run(PROMPT, max_iterations=1)
    caps = [cap for name, purpose, cap in sent if purpose == "generate"]
    assert caps[:3] == [2048, 2048, 2048]  # not observed yet: the run's max_output_tokens
    assert caps[3] == 450  # 1.5 x the 300 tokens it answers with
    judge_caps = [cap for name, purpose, cap in sent if purpose == "judge"]
    assert judge_caps[:3] == [512] * 3 and judge_caps[3] == 64  # 1.5 x 40, at least 64
    # an answer cut at the learned cap counts double: the cap grows back
    orch.output_lengths.observe("function:strong", "generate", 450, finish_reason="length", cap=450)
    assert orch.output_lengths.cap(orch.catalog.get("strong"), "generate", 2048)[0] == 1350


async def test_concurrent_runs_of_a_session_wait_for_reservations() -> None:
    gate = asyncio.Event()
    sent: list[tuple[str, str, int]] = []
    started: list[str] = []
    inner = answering({}, sent)

    async def slow(request: GenerationRequest) -> Generation:
        if request.purpose == "generate":
            started.append(request.model.name)
            await gate.wait()
        result = inner.fn(request)
        assert isinstance(result, Generation)
        return result

    store = MemoryStore()
    orch = Orchestrator(
        providers=[FunctionProvider(slow, count_tokens=chars4)],
        catalog=gpt41_like(),
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        reservation_wait_s=5,
    )
    session = await orch.create_session(cost_limit=0.03)  # one run's reservation fits, two do not
    first = asyncio.create_task(orch.run(PROMPT, session=session, max_iterations=1))
    while not started:
        await asyncio.sleep(0.001)
    held = (await store.get_session(session.id)).reserved_cost
    assert 0.015 < held <= 0.03
    second = asyncio.create_task(orch.run(PROMPT, session=session, max_iterations=1))
    await asyncio.sleep(0.05)
    assert not second.done() and len(started) == 1  # waiting for the first run's reservation
    gate.set()
    results = await asyncio.gather(first, second)
    assert [r.status for r in results] == ["completed", "completed"]
    final = await store.get_session(session.id)
    assert final.reserved_cost == 0 and final.total_cost <= 0.03


async def test_a_wait_that_runs_out_is_a_clear_budget_stop() -> None:
    gate = asyncio.Event()
    sent: list[tuple[str, str, int]] = []
    inner = answering({}, sent)

    async def slow(request: GenerationRequest) -> Generation:
        await gate.wait()
        result = inner.fn(request)
        assert isinstance(result, Generation)
        return result

    orch = Orchestrator(
        providers=[FunctionProvider(slow, count_tokens=chars4)],
        catalog=gpt41_like(),
        retry=NO_WAIT,
        reservation_wait_s=0.05,
    )
    session = await orch.create_session(cost_limit=0.018)  # the first run holds $0.0169: no answer fits beside it
    first = asyncio.create_task(orch.run(PROMPT, session=session, max_iterations=1))
    await asyncio.sleep(0.01)
    second = await orch.run(PROMPT, session=session, max_iterations=1)
    assert second.stop_reason == "budget"
    assert "other runs of the session held $" in " ".join(second.orchestration.iterations[0].errors)
    gate.set()
    assert (await first).status == "completed"


async def test_a_wait_that_runs_out_asks_for_a_shorter_answer_that_fits_what_the_other_runs_leave() -> None:
    # The first run holds $0.0166 of the session's $0.03 while its model answers; the second's full answer (2,048
    # tokens) and its judging do not fit beside it. Once its wait ran out it stopped with `budget`, though an answer
    # of some 1,400 tokens fit the $0.0134 the first run left (a budget spent by other runs shortens the cap so)
    gate, started = asyncio.Event(), asyncio.Event()
    sent: list[tuple[str, str, int]] = []
    inner = answering({}, sent)

    async def slow(request: GenerationRequest) -> Generation:
        if "first" in request.messages[-1].content:
            started.set()
            await gate.wait()
        result = inner.fn(request)
        assert isinstance(result, Generation)
        return result

    store = MemoryStore()
    orch = Orchestrator(
        providers=[FunctionProvider(slow, count_tokens=chars4)],
        catalog=gpt41_like(),
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        reservation_wait_s=0.05,
    )
    session = await orch.create_session(cost_limit=0.03)
    first = asyncio.create_task(orch.run(f"{PROMPT} (first)", session=session, max_iterations=1))
    await started.wait()
    held = (await store.get_session(session.id)).reserved_cost
    second = await orch.run(PROMPT, session=session, max_iterations=1)
    assert 0.015 < held <= 0.03
    assert second.status == "completed" and second.final_model == "function:strong", second.error
    [cap] = [cap for name, purpose, cap in sent if purpose == "generate"]  # (the first run's is yet to come)
    assert 256 <= cap < 2048
    gate.set()
    assert (await first).status == "completed"
    final = await store.get_session(session.id)
    assert final.reserved_cost == 0 and final.total_cost <= 0.03


async def test_a_run_refused_by_what_the_session_spent_does_not_blame_the_other_runs_reservations() -> None:
    # The second run waited for the first's reservation; the first then spent most of the session's budget, so no
    # wait could help and the second stopped at once, saying "… other runs of the session held $0.000600 for 600s"
    # (the first run's judging, which it never waited for, nor for 600 s: examples/budget_and_events.py said so)
    gate, judging, judged = asyncio.Event(), asyncio.Event(), asyncio.Event()
    started: list[str] = []
    inner = answering({"function:strong": 1900}, [])

    async def slow(request: GenerationRequest) -> Generation:
        if request.purpose == "generate":
            started.append(request.model.name)
            await gate.wait()
        else:
            judging.set()
            await judged.wait()
        result = inner.fn(request)
        assert isinstance(result, Generation)
        return result

    store = MemoryStore()
    orch = Orchestrator(
        providers=[FunctionProvider(slow, count_tokens=chars4)],
        catalog=gpt41_like(),
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        reservation_wait_s=600,
    )
    # one run's reservation fits, two do not; once the first has answered, no answer of the second fits what is left
    session = await orch.create_session(cost_limit=0.0175)
    first = asyncio.create_task(orch.run(PROMPT, session=session, max_iterations=1))
    while not started:
        await asyncio.sleep(0.001)
    second = asyncio.create_task(orch.run(PROMPT, session=session, max_iterations=1))
    await asyncio.sleep(0.05)
    assert not second.done()  # waiting for the first run's reservation
    gate.set()  # the first answers (about $0.0153 of the $0.0175) and holds its judging while the judge reads
    await judging.wait()
    refused = await second  # (with the first's judging still held: it did not wait out the 600 s)
    assert refused.stop_reason == "budget" and refused.total_cost == 0
    said = " ".join([refused.orchestration.error or "", *refused.orchestration.iterations[0].errors])
    assert "the session's budget cannot cover a call of up to $" in said
    assert "other runs of the session held" not in said, said
    judged.set()
    assert (await first).status == "completed"
    final = await store.get_session(session.id)
    assert final.reserved_cost == 0 and final.total_cost <= 0.0175


class CountingStore(MemoryStore):
    """A MemoryStore that counts the reservations asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.reservations = 0

    async def reserve_budget(self, session_id: str, orchestration_id: str, amount: float) -> bool:
        self.reservations += 1
        return await super().reserve_budget(session_id, orchestration_id, amount)


async def test_an_iteration_waits_for_other_runs_once_not_once_per_fallback() -> None:
    """Another run of the session holds the budget. The second run's reservation waited `reservation_wait_s`,
    failed, fell back to the next model, which waited `reservation_wait_s` again, and so on through every model
    (17 waits here: 8.5 minutes at the default 30 s) before it stopped with `budget`. An iteration now waits once:
    its fallbacks try their reservation without waiting again."""
    hold, holding = asyncio.Event(), asyncio.Event()

    async def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": 9, "feedback": "fine"})
        if "first" in request.messages[-1].content:
            holding.set()
            await hold.wait()
        return "An answer."

    catalog = ModelCatalog(
        ModelProfile(name=f"function:m{i}", input_cost_per_1k=0.005, output_cost_per_1k=0.005) for i in range(8)
    )
    store = CountingStore()
    orch = Orchestrator(
        providers=[FunctionProvider(fn)], catalog=catalog, store=store, retry=NO_WAIT, reservation_wait_s=0.2
    )
    session = await orch.create_session(cost_limit=0.033)  # the first run holds $0.0304: no answer fits beside it
    first = asyncio.create_task(
        orch.run("The first question", session=session, max_iterations=1, max_output_tokens=1000)
    )
    await asyncio.wait([asyncio.ensure_future(holding.wait()), first], return_when=asyncio.FIRST_COMPLETED)
    assert not first.done(), first.result().error
    before = store.reservations
    second = await orch.run("The second question", session=session, max_iterations=1, max_output_tokens=1000)
    assert second.stop_reason == "budget" and second.total_cost == 0
    tries = len(second.orchestration.iterations[0].errors)
    assert tries == 8  # it fell back through the models, each once
    # one wait polls the store some ten times; each fallback after it asks once (it used to poll as long again)
    assert store.reservations - before <= tries + 15, (store.reservations - before, tries)
    hold.set()
    assert (await first).status == "completed"
    final = await store.get_session(session.id)
    assert final.reserved_cost == 0


async def test_a_fallback_refused_by_the_budget_does_not_go_back_to_a_model_the_budget_refused() -> None:
    """Another run of the session holds its budget. Once the iteration's wait had run out, each fallback was refused
    at once and the router went back and forth between the same cheap models: 45 `model_selected` events (one
    model 16 times, each a commit) over the simulator's 22 models before the run stopped with `budget`. A model the
    budget refused is no candidate for the rest of that iteration: each model is asked at most once."""

    async def fn(request: GenerationRequest) -> str:
        return json.dumps({"score": 9, "feedback": "fine"}) if request.purpose == "judge" else "An answer."

    catalog = ModelCatalog(
        [
            *(
                ModelProfile(
                    name=f"function:m{i}", input_cost_per_1k=0.001 * (i + 1), output_cost_per_1k=0.002 * (i + 1)
                )
                for i in range(6)
            ),
            ModelProfile(name="function:dearest", input_cost_per_1k=1.0, output_cost_per_1k=2.0),  # never fits $0.05
        ]
    )
    orch = Orchestrator(providers=[FunctionProvider(fn)], catalog=catalog, retry=NO_WAIT, reservation_wait_s=0.05)
    session = await orch.create_session(cost_limit=0.05)
    assert await orch.store.reserve_budget(session.id, "0" * 24, 0.0499)  # another run's reservation
    result = await orch.run(PROMPT, session=session, max_iterations=1)
    assert result.stop_reason == "budget" and result.total_cost == 0
    chosen = [e.model_name for e in result.events if e.type == "model_selected"]
    assert len(chosen) == len(set(chosen)) == 6, chosen
    errors = result.orchestration.iterations[0].errors
    assert len(errors) == len(chosen) and all(": BudgetExceeded: " in e for e in errors)
    # each says how long it waited: the first the iteration's wait, the others none (they said "for 0.05s" each)
    assert re.search(r"held \$0\.049900 for the 0\.\d+s it waited$", errors[0]), errors[0]
    assert all(e.endswith("held $0.049900, and this iteration's wait had run out") for e in errors[1:]), errors
    # the run says why: the other runs' reservations, not "no model's worst-case cost fits the $0.050000 left"
    error = result.orchestration.error or ""
    assert error.startswith("the session's budget cannot cover a call") and "other runs of the session held" in error
    assert (await orch.store.get_session(session.id)).reserved_cost == 0.0499
    await orch.aclose()


async def test_a_run_left_only_with_models_the_budget_refused_stops_for_the_budget() -> None:
    """The dear model's call is refused (another run holds the session's budget), the cheap fallback fails (a 500):
    with the refused model no longer a candidate, the run stops with `budget`, saying why the model was refused,
    not with `error` as if no model were left at all."""
    from orchestratex.exceptions import ProviderServerError

    async def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": 9, "feedback": "fine"})
        raise ProviderServerError("upstream failed", status_code=500, model=request.model.name)

    catalog = ModelCatalog(
        [
            ModelProfile(name="function:dear", input_cost_per_1k=0.01, output_cost_per_1k=0.02, quality=9.5),
            ModelProfile(name="function:cheap", input_cost_per_1k=0.0001, output_cost_per_1k=0.0002, quality=6),
            ModelProfile(name="function:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, judge_only=True),
        ]
    )
    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=catalog,
        router=BayesianRouter(explore=False, cost_sensitivity=0),
        retry=NO_WAIT,
        reservation_wait_s=0.05,
    )
    session = await orch.create_session(cost_limit=0.05)
    assert await orch.store.reserve_budget(session.id, "0" * 24, 0.045)  # another run's reservation
    result = await orch.run(PROMPT, session=session, max_iterations=1)
    chosen = [e.model_name for e in result.events if e.type == "model_selected"]
    assert chosen == ["function:dear", "function:cheap"], chosen
    assert result.stop_reason == "budget", result.orchestration.error
    assert result.orchestration.error is not None
    assert result.orchestration.error.startswith("the session's budget cannot cover a call"), result.orchestration.error
    await orch.aclose()


@st.composite
def budgets(draw: st.DrawFn) -> dict[str, object]:
    return {
        "prices": draw(st.lists(st.floats(0.0001, 0.05), min_size=3, max_size=3)),
        "lengths": draw(st.lists(st.integers(1, 3000), min_size=3, max_size=3)),
        "limit": draw(st.floats(0.0, 0.05)),
        "runs": draw(st.integers(1, 4)),
        "reported": draw(st.sampled_from([None, 0.5, 1.0])),
        "learn": draw(st.booleans()),
        "max_iterations": draw(st.integers(1, 4)),
    }


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(budgets())
def test_spent_never_exceeds_the_cost_limit(case: dict[str, object]) -> None:
    prices: list[float] = case["prices"]  # type: ignore[assignment]
    lengths: list[int] = case["lengths"]  # type: ignore[assignment]
    reported: float | None = case["reported"]  # type: ignore[assignment]
    names = ["a", "b", "c"]
    catalog = ModelCatalog(
        ModelProfile(name=f"function:{n}", input_cost_per_1k=p, output_cost_per_1k=4 * p, max_output_tokens=4000)
        for n, p in zip(names, prices, strict=True)
    )

    def fn(request: GenerationRequest) -> Generation:
        i = names.index(request.model.name.partition(":")[2])
        out = min(lengths[i] if request.purpose == "generate" else 30, request.max_output_tokens)
        usage = Usage(input_tokens=chars4(request), output_tokens=out)
        text = json.dumps({"score": 4, "feedback": "more"}) if request.purpose == "judge" else "w " * out
        cost = None if reported is None else request.model.cost(usage) * reported  # a provider's own billing
        return Generation(text=text, usage=usage, reported_cost=cost)

    async def main() -> tuple[float, float]:
        store = MemoryStore()
        orch = Orchestrator(
            providers=[FunctionProvider(fn, count_tokens=chars4)],
            catalog=catalog,
            store=store,
            retry=NO_WAIT,
            output_cap=OutputCapPolicy(learn=bool(case["learn"]), min_observations=1),
            reservation_wait_s=0.2,
        )
        session = await orch.create_session(cost_limit=case["limit"])  # type: ignore[arg-type]
        runs = [
            orch.run(PROMPT, session=session, max_iterations=case["max_iterations"], evaluation_threshold=9)  # type: ignore[arg-type]
            for _ in range(case["runs"])  # type: ignore[call-overload]
        ]
        await asyncio.gather(*runs)
        final = await store.get_session(session.id)
        return final.total_cost, final.reserved_cost

    spent, reserved = asyncio.run(main())
    assert spent <= case["limit"]  # type: ignore[operator]
    assert reserved == 0


async def test_an_answer_is_not_paid_for_unless_its_judging_is_held_too() -> None:
    """A second run of the session whose answer fits beside the first run's reservation but whose judging does
    not waits for both; it used to pay for the answer alone, then find no judge it could afford (a failed run
    that had spent $0.016)."""
    gate = asyncio.Event()
    generations: list[str] = []

    async def fn(request: GenerationRequest) -> Generation:
        usage = Usage(input_tokens=chars4(request), output_tokens=request.max_output_tokens)  # every call its worst
        if request.purpose == "judge":
            return Generation(text=json.dumps({"score": 9, "feedback": "good"}), usage=usage)
        generations.append(request.model.name)
        if len(generations) == 1:
            await gate.wait()
        return Generation(text="word " * request.max_output_tokens, usage=usage, finish_reason="length")

    store = MemoryStore()
    orch = Orchestrator(
        providers=[FunctionProvider(fn, count_tokens=chars4)],
        catalog=gpt41_like(),
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        reservation_wait_s=2,
        output_cap=OutputCapPolicy(min_tokens=2048),  # (no shorter answer is worth asking for once the wait is over)
    )
    # the first run spends $0.0168 (answer and judge); the second's answer ($0.0165) fits beside it, its judging not
    session = await orch.create_session(cost_limit=0.0334)
    first = asyncio.create_task(orch.run(PROMPT, session=session, max_iterations=1))
    while not generations:
        await asyncio.sleep(0.001)
    second = asyncio.create_task(orch.run(PROMPT, session=session, max_iterations=1))
    await asyncio.sleep(0.05)
    gate.set()
    done, refused = await asyncio.gather(first, second)
    assert done.status == "completed"
    assert refused.stop_reason == "budget" and refused.total_cost == 0  # nothing paid for an answer nobody judges
    assert generations == ["function:strong"]
    assert "for judging its answer" in refused.orchestration.iterations[0].errors[0]
    final = await store.get_session(session.id)
    assert final.total_cost == done.total_cost and final.reserved_cost == 0


async def test_a_paid_answer_is_judged_by_the_judge_held_for_it_when_the_preferred_judge_does_not_fit() -> None:
    """The evaluator prefers a strong, dear judge; the run had set aside only the cheapest judge's worst case with
    the answer, and another run of the session held the rest of the budget. The run used to pay for its answer,
    find the dear judge's reservation refused, and stop `failed` ("no judge fits the remaining budget") though the
    judge held for it fitted; that judge now judges the answer."""
    other_started, release_other = asyncio.Event(), asyncio.Event()
    judged: list[tuple[str, str]] = []

    async def fn(request: GenerationRequest) -> str:
        prompt = request.messages[-1].content
        if request.purpose == "judge":
            judged.append(("first" if "first" in prompt else "second", request.model.name))
            return json.dumps({"score": 9, "feedback": "fine"})
        if "second" in prompt:  # holds its reservation while the first run's answer is judged
            other_started.set()
            await release_other.wait()
        else:
            await other_started.wait()
        return "An answer."

    catalog = ModelCatalog(
        [
            ModelProfile(name="function:a", input_cost_per_1k=0.001, output_cost_per_1k=0.05, quality=6.0),
            ModelProfile(
                name="function:cheap-judge",
                input_cost_per_1k=0.0001,
                output_cost_per_1k=0.0001,
                quality=6.0,
                judge_only=True,
            ),
            ModelProfile(
                name="function:strong-judge",
                input_cost_per_1k=0.01,
                output_cost_per_1k=0.01,
                quality=9.0,
                judge_only=True,
            ),
        ]
    )
    store = MemoryStore()
    orch = Orchestrator(
        providers=[FunctionProvider(fn)], catalog=catalog, store=store, retry=NO_WAIT, reservation_wait_s=0.2
    )
    # the strong judge (about $0.0097 at worst) fits beside the first answer, but not beside the second run's
    # reservation (about $0.0052): the cheap judge's worst case was reserved with the first answer
    session = await orch.create_session(cost_limit=0.012)

    async def first_run() -> RunResult:
        try:
            return await orch.run("The first question?", session=session, max_iterations=1, max_output_tokens=100)
        finally:
            release_other.set()

    first, second = await asyncio.gather(
        first_run(), orch.run("The second question?", session=session, max_iterations=1, max_output_tokens=100)
    )
    assert first.status == "completed", first.error
    assert first.final_score == 9 and first.orchestration.iterations[0].errors == []
    assert ("first", "function:cheap-judge") in judged and ("first", "function:strong-judge") not in judged
    assert second.status == "completed" and ("second", "function:strong-judge") in judged  # its own choice, once free
    final = await store.get_session(session.id)
    assert final.total_cost == first.total_cost + second.total_cost <= 0.012
    assert final.reserved_cost == 0


async def test_a_run_waiting_for_other_runs_reservations_says_so_while_it_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Before: a run of a session whose other run held the budget waited (up to `reservation_wait_s`, 30 s by default)
    # without a word, no event and no log line: it looked hung. It now logs when it starts waiting, for what and for
    # how long at most, and how the wait ended.
    gate = asyncio.Event()
    started: list[str] = []
    inner = answering({}, [])

    async def slow(request: GenerationRequest) -> Generation:
        if request.purpose == "generate":
            started.append(request.model.name)
            await gate.wait()
        result = inner.fn(request)
        assert isinstance(result, Generation)
        return result

    store = MemoryStore()
    orch = Orchestrator(
        providers=[FunctionProvider(slow, count_tokens=chars4)],
        catalog=gpt41_like(),
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        reservation_wait_s=30,
    )
    caplog.set_level(logging.INFO, logger="orchestratex.orchestrator")
    session = await orch.create_session(cost_limit=0.03)  # one run's reservation fits, two do not
    first = asyncio.create_task(orch.run(PROMPT, session=session, max_iterations=1))
    while not started:
        await asyncio.sleep(0.001)
    second = asyncio.create_task(orch.run(PROMPT, session=session, max_iterations=1))
    for _ in range(2000):  # said while it waits, not once it is over
        if any(getattr(r, "wait_s", None) for r in caplog.records) or second.done():
            break
        await asyncio.sleep(0.005)
    assert not second.done()
    said = next((r for r in caplog.records if getattr(r, "wait_s", None)), None)
    if said is None:
        gate.set()
        await asyncio.gather(first, second)
    assert said is not None, "nothing said while the run waited"
    assert re.match(
        rf"waiting up to \d+(\.\d+)? s for other runs of session {session.id} to release the \$0\.0\d+ they hold: "
        r"this call needs \$0\.0\d+ of the session's \$0\.030000 budget$",
        said.getMessage(),
    ), said.getMessage()
    assert said.session_id == session.id and 0 < said.held_usd <= 0.03  # type: ignore[attr-defined]
    gate.set()
    assert [r.status for r in await asyncio.gather(first, second)] == ["completed", "completed"]
    over = [r for r in caplog.records if getattr(r, "waited_s", None) is not None]
    assert len(over) == 1 and over[0].reserved is True  # type: ignore[attr-defined]
    assert over[0].getMessage().endswith(f"needs in session {session.id} was reserved")


@pytest.mark.parametrize("length", [3, 5000])  # a short answer, and one as long as its cap allows
async def test_a_budget_that_cannot_judge_a_full_length_answer_buys_a_shorter_one_and_its_judging(length: int) -> None:
    # the judging was kept aside for an answer of the full 2,048 tokens: with a judge dearer than the answering model,
    # $0.006 refused every model ("no model's worst-case cost (with judging) fits the $0.006000 left") for a prompt
    # whose answer and judging cost a fraction of it, though a shorter answer and its judging fit
    sent: list[tuple[str, str, int]] = []
    catalog = ModelCatalog(
        [
            ModelProfile(name="function:cheap", input_cost_per_1k=0.0001, output_cost_per_1k=0.0004, quality=7.0),
            ModelProfile(
                name="function:judge", input_cost_per_1k=0.002, output_cost_per_1k=0.008, quality=8.0, judge_only=True
            ),
        ]
    )
    orch = Orchestrator(providers=[answering({"function:cheap": length}, sent)], catalog=catalog, retry=NO_WAIT)
    result = await orch.run(PROMPT, cost_limit=0.006, max_iterations=1, evaluation_threshold=8)
    assert result.status == "completed", result.error
    assert result.final_score == 9  # judged
    (name, purpose, cap), judge_call = sent[0], sent[1]
    assert (name, purpose) == ("function:cheap", "generate") and 256 <= cap < 2048
    assert judge_call[:2] == ("function:judge", "judge")
    assert result.total_cost <= 0.006
    await orch.aclose()


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
async def test_a_runs_cost_limit_holds_when_a_panel_of_judges_reserves_at_once(store_kind: str, tmp_path: Path) -> None:
    # a run's own cost_limit under a session's limit, a panel of two dear judges whose worst cases fit what is left
    # one at a time but not together: both checked the run's limit while the other's reservation was being written to
    # the store, both were called, and the run spent $0.0207 of its $0.018 (SQLite; a MemoryStore, whose writes do
    # not yield, refused the second)
    from orchestratex import SQLiteStore
    from orchestratex.evaluation import LLMJudgeEvaluator

    def fn(request: GenerationRequest) -> Generation:
        if request.purpose == "judge":  # (billed at its whole output cap)
            usage = Usage(input_tokens=10, output_tokens=request.max_output_tokens)
            return Generation(text=json.dumps({"score": 9, "feedback": "ok"}), usage=usage)
        return Generation(text="Four.", usage=Usage(input_tokens=10, output_tokens=10))

    def judge(name: str, price: float, quality: float) -> ModelProfile:
        return ModelProfile(
            name=f"function:{name}",
            input_cost_per_1k=price,
            output_cost_per_1k=2 * price,
            quality=quality,
            judge_only=True,
        )

    models = ModelCatalog(
        [
            ModelProfile(name="function:a", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=9.0),
            *(judge(name, 0.01, 9.5) for name in ("dear1", "dear2")),  # the panel chosen: $0.0149 each at worst
            *(judge(name, 0.0001, 5.0) for name in ("cheap1", "cheap2")),  # what is kept aside with the answer
        ]
    )
    store = SQLiteStore(tmp_path / "runs.db") if store_kind == "sqlite" else MemoryStore()
    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=models,
        store=store,
        retry=NO_WAIT,
        evaluator=LLMJudgeEvaluator(panel_size=2),
        router=BayesianRouter(explore=False),
    )
    async with orch:
        session = await orch.create_session(cost_limit=10.0)
        result = await orch.run(
            "What is 2+2?", session=session, cost_limit=0.018, max_iterations=1, max_output_tokens=200
        )
    assert result.status == "completed", result.error
    assert result.total_cost <= 0.018
    [it] = result.orchestration.iterations
    assert it.evaluation is not None
    verdicts = {v.judge_model: v for v in it.evaluation.verdicts}
    assert sorted(verdicts) == ["function:dear1", "function:dear2"]
    assert sorted(str(v.error).partition(":")[0] for v in verdicts.values()) == ["BudgetExceeded", "None"]
