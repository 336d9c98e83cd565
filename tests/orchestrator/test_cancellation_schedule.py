"""Cancelling a run at any await point of a step — while a store write is in flight, just before it, during a
model call, or by a `wait_for` timeout — never leaks a reservation nor breaks the ledger (issue #14, item 2).

Hypothesis draws the schedule: which store call or model call the cancellation meets, and how.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestratex import FunctionProvider, Generation, GenerationRequest, Orchestrator, SQLiteStore
from orchestratex.events import Event
from orchestratex.routing import BayesianRouter

from ..helpers import NO_WAIT, answer_attempt, catalog, score_of_answer, scripted
from ..ledger import ledger_problems

T = TypeVar("T")
Mode = Literal["during_write", "before_write", "model_call", "orchestrator_cancel", "timeout"]


class CancellingStore(SQLiteStore):
    """Counts the store calls of a run; at call number `at` it cancels `target` while the call is in flight
    (`during_write`: the job is already with SQLite's thread) or just before it starts (`before_write`)."""

    def __init__(self) -> None:
        super().__init__(":memory:")
        self.at = -1
        self.mode: Mode = "during_write"
        self.calls = 0
        self.target: Callable[[], None] | None = None
        self.hit: str | None = None

    async def _hooked(self, name: str, op: Callable[[], Awaitable[T]]) -> T:
        self.calls += 1
        if self.calls != self.at or self.target is None:
            return await op()
        self.hit = name
        if self.mode == "before_write":
            self.target()
            await asyncio.sleep(0)  # the cancellation lands here, before the write is queued
            return await op()
        job = asyncio.ensure_future(op())
        await asyncio.sleep(0)  # the job is now queued for (or running in) SQLite's thread
        self.target()
        return await job

    async def reserve_budget(self, *args: Any, **kwargs: Any) -> bool:
        return await self._hooked(
            "reserve_budget", lambda: super(CancellingStore, self).reserve_budget(*args, **kwargs)
        )

    async def commit(self, *args: Any, **kwargs: Any) -> Any:
        return await self._hooked("commit", lambda: super(CancellingStore, self).commit(*args, **kwargs))

    async def release_reservations(self, *args: Any, **kwargs: Any) -> float:
        release = super().release_reservations
        return await self._hooked("release_reservations", lambda: release(*args, **kwargs))

    async def claim(self, *args: Any, **kwargs: Any) -> bool:
        return await self._hooked("claim", lambda: super(CancellingStore, self).claim(*args, **kwargs))

    async def get_session(self, *args: Any, **kwargs: Any) -> Any:
        return await self._hooked("get_session", lambda: super(CancellingStore, self).get_session(*args, **kwargs))


async def _scenario(mode: Mode, at: int, timeout: float, judges: int) -> tuple[list[str], str]:
    store = CancellingStore()
    model_calls = 0
    cancel_model: Callable[[], None] | None = None
    base = scripted(answer_attempt, score_of_answer({1: 4.0, 2: 6.0, 3: 9.0}))

    async def fn(request: GenerationRequest) -> Generation:
        nonlocal model_calls
        model_calls += 1
        if mode == "model_call" and model_calls == at and cancel_model is not None:
            cancel_model()
        await asyncio.sleep(0.001)
        return await base.generate(request)

    from orchestratex.evaluation import LLMJudgeEvaluator

    seen: list[Event] = []
    orch = Orchestrator(
        on_event=seen.append,
        providers=[FunctionProvider(fn)],
        catalog=catalog("a", "b", "c", "d"),
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        evaluator=LLMJudgeEvaluator(panel_size=judges),
    )
    async with orch:
        session = await orch.create_session("alice", cost_limit=1.0)
        doc = await orch.prepare("Hello", session=session, max_iterations=3, evaluation_threshold=8)
        outcome = "completed"
        if mode == "timeout":
            try:
                await asyncio.wait_for(orch.drive(doc), timeout)
            except TimeoutError:
                outcome = "timeout"
        else:
            task = orch.start(doc)
            if mode == "orchestrator_cancel":

                def cancel() -> None:
                    asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(orch.cancel(doc.id)))

            else:

                def cancel() -> None:
                    task.cancel()

            store.mode, store.at, store.target = mode, at, cancel
            cancel_model = cancel
            try:
                await task
            except asyncio.CancelledError:
                outcome = "cancelled"
            await asyncio.sleep(0.01)  # an orchestrator.cancel() scheduled late finds nothing to do
        problems = await ledger_problems(store, session.id)
        stored = await store.get_orchestration(doc.id)
        after = await store.get_session(session.id)
        stored_events = await store.list_events(session.id)
        if [(e.seq, e.type) for e in seen] != [(e.seq, e.type) for e in stored_events]:
            problems.append(f"handlers saw {[e.type for e in seen]}, the store has {[e.type for e in stored_events]}")
        if after.reserved_cost:
            problems.append(f"leaked ${after.reserved_cost} ({outcome}, {stored.status}, hit {store.hit})")
        return problems, outcome


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mode=st.sampled_from(["during_write", "before_write", "model_call", "orchestrator_cancel", "timeout"]),
    at=st.integers(min_value=1, max_value=30),
    timeout=st.floats(min_value=0.0, max_value=0.08),
    judges=st.integers(min_value=1, max_value=2),
)
def test_cancelling_anywhere_leaks_nothing(mode: Mode, at: int, timeout: float, judges: int) -> None:
    problems, _ = asyncio.run(_scenario(mode, at, timeout, judges))
    assert problems == []


@pytest.mark.parametrize("mode", ["during_write", "before_write"])
def test_a_cancellation_at_each_store_call_in_turn_leaks_nothing(mode: Mode) -> None:
    """Deterministically, every store call of a three-iteration run in turn (the issue's case: cancelled
    while SQLite writes a reservation; and cancelled while the final commit is written)."""
    outcomes = set()
    for at in range(1, 40):
        problems, outcome = asyncio.run(_scenario(mode, at, 0.0, 2))
        assert problems == [], (at, outcome)
        outcomes.add(outcome)
    assert outcomes == {"cancelled", "completed"}
