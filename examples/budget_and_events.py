"""A shared session budget, live events, and what happens when the money runs out."""

from __future__ import annotations

import asyncio

from orchestratex import Event, Orchestrator


def show(event: Event) -> None:
    if event.type == "model_selected":
        print(f"  [{event.seq}] #{event.iteration} → {event.model_name}")
    elif event.type == "evaluation_completed":
        print(f"  [{event.seq}] scored {event.score:.1f}")
    elif event.type in ("orchestration_completed", "orchestration_failed"):
        print(f"  [{event.seq}] {event.type} (${event.total_cost:.5f})")


async def main() -> None:
    async with Orchestrator(on_event=show, evaluation_threshold=9.5) as orchestrator:
        session = await orchestrator.create_session("demo-user", cost_limit=0.02)
        prompts = ["Explain TCP slow start", "Write a limerick about caching", "Prove that sqrt(2) is irrational"]
        results = await asyncio.gather(*(orchestrator.run(p, session=session) for p in prompts))
        stored = await orchestrator.store.get_session(session.id)
        for prompt, result in zip(prompts, results, strict=True):
            print(f"{prompt[:32]:32} {result.stop_reason:15} ${result.total_cost:.5f}")
        print(f"session spent ${stored.total_cost:.5f} of $0.02")
        assert stored.total_cost <= 0.02


if __name__ == "__main__":
    asyncio.run(main())
