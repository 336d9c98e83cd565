"""A thread's earlier turns count wherever a run plans with the request's size: the judges' windows (a long thread
no longer pays for an answer no judge can read) and the generation's worst case (a budget too small for the whole
conversation stops the run before any call, saying so)."""

from __future__ import annotations

import json

from orchestratex import BayesianRouter, GenerationRequest, ModelCatalog, ModelProfile, Orchestrator
from orchestratex.providers import FunctionProvider

from ..helpers import NO_WAIT


def _orchestrator(calls: list[str], *, window: int, price: float = 0.001) -> Orchestrator:
    def fn(request: GenerationRequest) -> str:
        calls.append(request.purpose)
        if request.purpose == "judge":
            return json.dumps({"score": 9, "feedback": "fine"})
        return "A" * 2000  # about 500 tokens a turn

    models = ModelCatalog(
        ModelProfile(
            name=f"function:{n}",
            input_cost_per_1k=price,
            output_cost_per_1k=price,
            context_window=window,
            max_output_tokens=600,
            quality=7.0,
        )
        for n in ("a", "b")
    )
    return Orchestrator(
        providers=[FunctionProvider(fn)], catalog=models, retry=NO_WAIT, router=BayesianRouter(explore=False)
    )


async def test_a_thread_too_long_for_the_judges_stops_before_paying_for_an_answer() -> None:
    calls: list[str] = []
    async with _orchestrator(calls, window=3000) as orchestrator:
        session = await orchestrator.create_session("u", cost_limit=1.0)
        thread = await orchestrator.create_thread(session.id, "q0")
        turns = [await orchestrator.run(f"question {i}", thread=thread) for i in range(4)]
        assert [r.status for r in turns] == ["completed"] * 4
        calls.clear()
        spent = (await orchestrator.store.get_session(session.id)).total_cost

        # the fifth turn still fits a model's window, but no judge's with its answer: nothing is called or paid
        fifth = await orchestrator.run("question 4", thread=thread)
        assert fifth.status == "failed" and fifth.stop_reason == "error"
        assert calls == [] and fifth.total_cost == 0.0
        assert fifth.orchestration.error is not None
        assert fifth.orchestration.error.startswith("no judge can read this conversation (9 messages)")
        assert "start a new thread" in fifth.orchestration.error
        assert (await orchestrator.store.get_session(session.id)).total_cost == spent

        # a new thread of the same session runs
        fresh = await orchestrator.run("question 4", session=session)
        assert fresh.status == "completed"


async def test_the_generation_budget_counts_the_thread_s_earlier_turns() -> None:
    calls: list[str] = []
    async with _orchestrator(calls, window=100_000, price=1.0) as orchestrator:
        session = await orchestrator.create_session("u", cost_limit=100.0)
        thread = await orchestrator.create_thread(session.id, "q0")
        long_turn = [
            {"role": "user", "content": "B" * 40_000},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "q1"},
        ]
        assert (await orchestrator.run(long_turn, thread=thread)).status == "completed"
        calls.clear()

        # the next turn's request holds the 40,000 bytes again: its worst case is far above $5, and it says so
        result = await orchestrator.run("next question", thread=thread, cost_limit=5.0)
        assert result.status == "failed" and result.stop_reason == "budget" and calls == []
        error = result.orchestration.error or ""
        assert error.startswith("no model's worst-case cost (with judging) fits the $5.000000 left: the least a call")
        assert float(error.split("needs is $")[1].split(" ")[0]) > 5  # (how much it would take)
        assert result.orchestration.iterations == []  # no model was chosen and then found not to fit
