"""A project whose default service tier is `priority` is billed about twice the list prices, which the request cannot
know (it sends no `service_tier`). Calls were reserved at the catalog's prices all the same: an answer longer than
about half its output cap cost more than was reserved, counted as an overage, and the model was dropped from the run,
in every run. Once a model was billed above its catalog price, its later calls are reserved at that ratio."""

from __future__ import annotations

import asyncio
import json

import httpx2

from orchestratex import BayesianRouter, FunctionProvider, GenerationRequest, MemoryStore, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.stores import Store
from orchestratex.testing.runs import judged_orchestrator
from orchestratex_openai import OpenAIProvider

# GPT-5's list prices: $1.25 / MTok in, $10 / MTok out; twice that at priority
GPT_5 = ModelProfile(
    name="openai:gpt-5", input_cost_per_1k=0.00125, cached_input_cost_per_1k=0.000125, output_cost_per_1k=0.01
)
PROMPT_TOKENS = 20  # (below any bound of the prompt the orchestrator reserves for)
BILL = 0.01605  # 20 x $2.50 + 800 x $20 (per MTok): an answer of 800 tokens, 80% of its 1,000-token cap


class PriorityProject:
    """OpenAI's API for a project whose default service tier is `priority`: each answer writes 80% of its cap."""

    def __init__(self, share: float = 0.8) -> None:
        self.caps: list[int] = []
        self.share = share

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        assert "service_tier" not in body
        cap = body["max_completion_tokens"]
        self.caps.append(cap)
        out = int(cap * self.share)
        message = {"role": "assistant", "content": "A long answer. " * 20}
        return httpx2.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1765000000,
                "model": "gpt-5-2025-08-07",
                "service_tier": "priority",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
                "usage": {
                    "prompt_tokens": PROMPT_TOKENS,
                    "completion_tokens": out,
                    "total_tokens": PROMPT_TOKENS + out,
                },
            },
        )


class Judge:
    """Scores every answer 5 (so runs go on to their last iteration); its `hang_at`-th call never answers."""

    def __init__(self, hang_at: int | None = None) -> None:
        self.calls, self.hang_at, self.waiting = 0, hang_at, asyncio.Event()

    async def __call__(self, request: GenerationRequest) -> str:
        self.calls += 1
        if self.calls == self.hang_at:
            self.waiting.set()
            await asyncio.sleep(3600)
        return '{"score": 5, "feedback": "say more"}'


def orchestrator(api: PriorityProject, store: Store, judge: Judge | None = None) -> Orchestrator:
    openai = OpenAIProvider(api_key="sk-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(api)))
    return judged_orchestrator(openai, GPT_5, verdict=judge or Judge(), store=store, max_output_tokens=1000)


async def test_after_its_first_priority_bill_a_model_is_reserved_at_the_priority_prices_and_kept() -> None:
    api, store = PriorityProject(), MemoryStore()
    async with orchestrator(api, store) as o:
        session = await o.create_session(cost_limit=1.0)
        first = await o.run("Explain TCP slow start", session=session, max_iterations=3)
        second = await o.run("Explain TCP congestion avoidance", session=session, max_iterations=3)
    # the first bill could not be known: over its reservation, counted as overage; the model stays in the run (its
    # excess was the surcharge), and from then on each call reserves twice its catalog worst case: no overage
    [overrun], *rest = (it.errors for it in first.orchestration.iterations)
    assert overrun.startswith(f"{GPT_5.name}: CostOverrun: reported usage cost $0.016050, $0.005")
    assert overrun.endswith(
        ": billed 2 times the catalog price of its usage, which its next calls reserve (kept in the run)"
    )
    assert rest == [[], []] and first.total_cost == 3 * BILL and 0 < first.overage_cost < BILL
    assert [(it.model_name, it.cost, it.errors) for it in second.orchestration.iterations] == [
        (GPT_5.name, BILL, [])
    ] * 3
    assert (second.overage_cost, second.stop_reason) == (0.0, "max_iterations")
    assert api.caps == [1000] * 6  # (the budget allows the whole cap)
    spent = await store.get_session(session.id)
    assert (spent.total_cost, spent.reserved_cost) == (6 * BILL, 0.0)


async def test_a_session_budget_the_surcharged_worst_case_no_longer_fits_stops_the_run_uncalled() -> None:
    api, store = PriorityProject(), MemoryStore()
    limit = BILL + 0.004  # after the first run, $0.004: a 256-token answer at the list prices, not at priority
    async with orchestrator(api, store) as o:
        session = await o.create_session(cost_limit=limit)
        first = await o.run("Explain TCP slow start", session=session, max_iterations=1)
        second = await o.run("Explain TCP congestion avoidance", session=session, max_iterations=1)
    assert first.total_cost == BILL
    assert (second.status, second.stop_reason, second.total_cost) == ("failed", "budget", 0.0)
    assert "fits the $0.004000 left" in (second.error or "")
    assert len(api.caps) == 1  # not called: a priority answer of the cap the budget allows would have overspent it
    spent = await store.get_session(session.id)
    assert (spent.total_cost, spent.reserved_cost) == (BILL, 0.0)


async def test_a_run_resumed_by_a_new_orchestrator_reserves_what_its_recorded_calls_were_billed() -> None:
    api, store = PriorityProject(), MemoryStore()
    judge = Judge(hang_at=2)  # the second answer's judging hangs
    first = orchestrator(api, store, judge)
    async with first:
        session = await first.create_session(cost_limit=1.0)
        doc = await first.prepare("Explain TCP congestion avoidance", session=session, max_iterations=3)
        first.start(doc)
        await asyncio.wait_for(judge.waiting.wait(), 10)
        assert await first.suspend(doc.id)
    suspended = await store.get_orchestration(doc.id)
    assert [(it.cost, it.catalog_cost) for it in suspended.iterations] == [(BILL, BILL / 2)] * 2
    # a new orchestrator (another process, a restarted server) has seen no bill, but the run's records say what its
    # calls were billed: the model billed a surcharge stays a candidate, and its next call is reserved at that ratio
    async with orchestrator(api, store) as second:
        result = await second.drive(doc.id)
    errors = [(it.model_name, len(it.errors)) for it in result.orchestration.iterations]
    assert errors == [(GPT_5.name, 1), (GPT_5.name, 0), (GPT_5.name, 0)]
    assert result.orchestration.iterations[0].errors[0].endswith("(kept in the run)")
    assert (result.overage_cost, result.stop_reason, result.total_cost) == (
        suspended.overage_cost,
        "max_iterations",
        3 * BILL,
    )


async def test_a_priority_answer_longer_than_its_cap_still_drops_the_model() -> None:
    # the model ignored its output cap: its excess is no surcharge, and the overage policy stands
    api, store = PriorityProject(share=1.5), MemoryStore()
    async with orchestrator(api, store) as o:
        result = await o.run("Explain TCP slow start", max_iterations=3, cost_limit=1.0)
    [overrun] = [e for it in result.orchestration.iterations for e in it.errors]
    assert overrun.startswith(f"{GPT_5.name}: CostOverrun: ") and overrun.endswith("reserved for the call")
    assert len(api.caps) == 1 and result.overage_cost > 0


class PriorityJudge(PriorityProject):
    """`PriorityProject` whose model judges: each verdict writes 80% of its cap."""

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        answered = super().__call__(request)
        body = answered.json()
        body["choices"][0]["message"]["content"] = '{"score": 5, "feedback": "say more"}'
        return httpx2.Response(200, json=body)


WRITER = ModelProfile(name="function:writer", cost_per_1k_tokens=0, quality=9)
VERDICT = 0.00823  # 20 x $2.50 + 409 x $20 (per MTok): a verdict of 409 tokens, 80% of its 512-token cap


def judged_by_gpt_5(api: PriorityJudge, store: Store, max_output_tokens: int = 1000) -> Orchestrator:
    openai = OpenAIProvider(api_key="sk-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(api)))
    return Orchestrator(
        catalog=ModelCatalog([WRITER, GPT_5]),
        providers=[openai, FunctionProvider(lambda request: "A long answer. " * 20, name="function")],
        router=BayesianRouter(explore=False),
        judges=[GPT_5.name],
        store=store,
        max_output_tokens=max_output_tokens,
    )


async def test_a_judge_billed_at_priority_is_reserved_at_the_priority_prices_and_keeps_judging() -> None:
    api, store = PriorityJudge(), MemoryStore()
    async with judged_by_gpt_5(api, store) as o:
        session = await o.create_session(cost_limit=1.0)
        first = await o.run("Explain TCP slow start", session=session, max_iterations=3)
        second = await o.run("Explain TCP congestion avoidance", session=session, max_iterations=3)
    assert first.overage_cost > 0  # its first verdict, billed at priority, could not be known
    assert [it.evaluation and it.evaluation.cost for it in second.orchestration.iterations] == [VERDICT] * 3
    assert (second.overage_cost, second.stop_reason) == (0.0, "max_iterations")
    assert (await store.get_session(session.id)).reserved_cost == 0.0


async def test_a_session_budget_the_surcharged_judging_no_longer_fits_stops_the_run_before_its_answer() -> None:
    api, store = PriorityJudge(), MemoryStore()
    async with judged_by_gpt_5(api, store, max_output_tokens=100) as o:
        session = await o.create_session(cost_limit=1.0)
        await o.run("Explain TCP slow start", session=session, max_iterations=1)  # learns the surcharge
        spent = (await store.get_session(session.id)).total_cost
        # the verdict's worst case (512 tokens out, a prompt of a few hundred in) at the list prices, not at priority
        tight = await o.create_session(cost_limit=0.008)
        result = await o.run("Explain TCP congestion avoidance", session=tight, max_iterations=1)
    assert spent == VERDICT
    assert (result.stop_reason, result.total_cost, result.orchestration.iterations) == ("budget", 0.0, [])
    assert len(api.caps) == 1  # the judge was not called again: at priority its verdict would have overspent


class MovedProject(PriorityProject):
    """`PriorityProject` whose default tier is `tier` (the project's owner may move it back to `default`)."""

    def __init__(self) -> None:
        super().__init__()
        self.tier = "priority"

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = super().__call__(request).json()
        body["service_tier"] = self.tier
        return httpx2.Response(200, json=body)


async def test_a_project_moved_back_to_the_default_tier_is_reserved_at_the_list_prices_again() -> None:
    """A model once billed at priority was reserved at twice its list prices for the life of the orchestrator, however
    many bills at the list prices followed (a tight budget kept refusing its calls), and nothing could read or
    reset it. Its ratio is now readable (`surcharges`), forgotten after 5 bills in a row at the list prices, and
    `reset_surcharges()` forgets it at once."""
    api, store = MovedProject(), MemoryStore()
    tight = 0.0125  # a 1,000-token answer's worst case at the list prices (about $0.0101), not at priority
    async with orchestrator(api, store) as o:
        await o.run("Explain TCP slow start", max_iterations=1)
        assert o.surcharges.keys() == {GPT_5.name} and 2 <= o.surcharges[GPT_5.name] < 2.001
        api.tier = "default"
        await o.run("Explain TCP congestion avoidance", max_iterations=4, patience=4, cost_limit=1.0)
        refused = await o.run("Explain TCP fast retransmit", max_iterations=1, cost_limit=tight)
        # (4 bills at the list prices: still reserved at priority, which the budget does not fit: not called)
        assert (refused.stop_reason, len(api.caps)) == ("budget", 5)
        assert o.surcharges.keys() == {GPT_5.name}
        await o.run("Explain TCP fast recovery", max_iterations=1, cost_limit=1.0)  # (the 5th: forgotten after it)
        assert o.surcharges == {}
        result = await o.run("Explain TCP Reno", max_iterations=1, cost_limit=tight)
        assert api.caps[-1] == 1000 and result.overage_cost == 0.0  # (reserved at the list prices: the whole cap)
        api.tier = "priority"  # moved to priority again: the first bill is over its reservation, learnt again
        again = await o.run("Explain TCP Vegas", max_iterations=1, cost_limit=1.0)
        assert again.overage_cost > 0 and o.surcharges.keys() == {GPT_5.name}
        o.reset_surcharges("gpt-5")  # (an alias, as the catalog resolves it)
        assert o.surcharges == {}
    spent = await store.get_session(result.orchestration.session_id)
    assert spent.reserved_cost == 0.0
