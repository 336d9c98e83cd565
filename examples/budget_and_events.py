"""A shared session budget, live events, and what happens when the money runs out.

Three prompts run at once in one session whose $0.0015 budget cannot pay for all of them: the runs
that find no model whose worst-case cost still fits stop with `budget` (and say so), and the session
never spends more than its limit.
"""

from __future__ import annotations

import asyncio

from orchestratex import BayesianRouter, Event, Orchestrator

BUDGET = 0.0015  # US dollars for the whole session, shared by its runs


def show(event: Event) -> None:
    if event.type == "model_selected":
        print(f"  [{event.seq}] #{event.iteration} → {event.model_name}")
    elif event.type == "evaluation_completed":
        print(f"  [{event.seq}] scored {event.score:.1f}")
    elif event.type in ("orchestration_completed", "orchestration_failed"):
        print(f"  [{event.seq}] {event.type} (${event.total_cost:.5f})")


async def main() -> None:
    router = BayesianRouter(seed=0)  # (seeded: the same choices on every run)
    async with Orchestrator(on_event=show, evaluation_threshold=9.5, router=router) as orchestrator:
        session = await orchestrator.create_session("demo-user", cost_limit=BUDGET)
        prompts = ["Explain TCP slow start", "Write a limerick about caching", "Prove that sqrt(2) is irrational"]
        results = await asyncio.gather(*(orchestrator.run(p, session=session) for p in prompts))
        stored = await orchestrator.store.get_session(session.id)
        for prompt, result in zip(prompts, results, strict=True):
            print(f"{prompt[:32]:32} {result.stop_reason:15} ${result.total_cost:.5f}")
            if result.stop_reason == "budget":
                print(f"{'':32} {result.orchestration.error}")
        print(f"session spent ${stored.total_cost:.5f} of ${BUDGET}")
        assert stored.total_cost <= BUDGET


if __name__ == "__main__":
    asyncio.run(main())
