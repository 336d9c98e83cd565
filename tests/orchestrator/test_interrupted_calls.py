"""`Orchestration.interrupted_calls` counts the calls a dead process had in flight, with or without a budget."""

from __future__ import annotations

import pytest

from orchestratex import FunctionProvider, Generation, GenerationRequest, LLMJudgeEvaluator, Orchestrator
from orchestratex.records import Session, SessionSettings
from orchestratex.routing import BayesianRouter
from orchestratex.stores import MemoryStore

from ..helpers import NO_WAIT, answer_attempt, catalog, score_of_answer, scripted


class _Died(BaseException):
    """The process dies while a call is in flight: nothing after it runs (a SIGKILL, in one process)."""


@pytest.mark.parametrize("cost_limit", [1.0, None])
@pytest.mark.parametrize(("dies_in", "in_flight"), [("generate", 1), ("judge", 3)])
async def test_a_resumed_run_counts_each_call_its_dead_process_had_in_flight(
    cost_limit: float | None, dies_in: str, in_flight: int
) -> None:
    store = MemoryStore()
    base = scripted(answer_attempt, score_of_answer({1: 9.0}))
    made: list[str] = []
    dead = True

    async def fn(request: GenerationRequest) -> Generation:
        made.append(request.purpose)
        if dead and request.purpose == dies_in:
            raise _Died
        return await base.generate(request)

    def make() -> Orchestrator:
        return Orchestrator(
            providers=[FunctionProvider(fn)],
            catalog=catalog("a", "b", "c", "d", "e"),
            store=store,
            retry=NO_WAIT,
            router=BayesianRouter(explore=False),
            evaluator=LLMJudgeEvaluator(panel_size=3),
            lease_ttl_s=0.2,
        )

    await store.open()
    session = await store.create_session(Session(user_id="alice", settings=SessionSettings(cost_limit=cost_limit)))
    with pytest.raises(_Died):
        await make().run("Hello", session=session, max_iterations=1)
    assert made.count(dies_in) == in_flight

    dead = False
    [result] = await make().resume_pending()
    assert result.status == "completed" and result.final_score == 9.0
    assert made.count(dies_in) == 2 * in_flight  # each made again by the resumed run
    assert result.orchestration.interrupted_calls == in_flight
    assert (await store.get_session(session.id)).reserved_cost == 0
