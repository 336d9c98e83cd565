"""The ledger identity a store must keep through faults, checked from the outside (the public Store API).

For every session: `total_cost` = Σ its orchestrations' `total_cost` = Σ its recorded calls (the
per-model analytics); no budget stays reserved unless one of its orchestrations is still being run;
its events are numbered 1..n without gaps, and each orchestration's events match its stored steps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection

from orchestratex.records import TERMINAL_ORCHESTRATION_STATUSES, Orchestration
from orchestratex.stores import Store
from orchestratex.stores.checks import to_pico

__all__ = ["ledger_problems"]

_FINAL = ("orchestration_completed", "orchestration_failed")


async def ledger_problems(store: Store, session_id: str, *, live: Collection[str] = ()) -> list[str]:
    """What breaks the identity in `session_id` (empty when it holds); `live`: orchestrations still driven."""
    problems: list[str] = []
    session = await store.get_session(session_id)
    orchestrations = await store.list_orchestrations(session_id=session_id, limit=100_000)
    runs = sum(to_pico(o.total_cost) for o in orchestrations)
    if to_pico(session.total_cost) != runs:
        problems.append(f"session total_cost {session.total_cost!r} != Σ runs {runs / 1e12!r}")
    analytics = await store.session_analytics(session_id)
    calls = sum(to_pico(m.cost) for m in analytics.models)
    # the answer of a run still between generation and evaluation is recorded with its evaluation
    awaiting = sum(
        to_pico(o.iterations[-1].cost)
        for o in orchestrations
        if o.status not in TERMINAL_ORCHESTRATION_STATUSES and o.iterations and o.iterations[-1].phase == "generated"
    )
    if calls + awaiting != runs:
        problems.append(
            f"Σ calls {calls / 1e12!r} (+ {awaiting / 1e12!r} awaiting evaluation) != Σ runs {runs / 1e12!r}"
        )
    active = [o.id for o in orchestrations if o.status not in TERMINAL_ORCHESTRATION_STATUSES and o.id in live]
    if session.reserved_cost and not active:
        problems.append(f"${session.reserved_cost!r} reserved with no run active")
    if session.reserved_cost < 0:
        problems.append(f"negative reservation ${session.reserved_cost!r}")

    return problems + await _event_problems(store, session_id, orchestrations)


async def _event_problems(store: Store, session_id: str, orchestrations: list[Orchestration]) -> list[str]:
    problems: list[str] = []
    events = await store.list_events(session_id, limit=1_000_000)
    seqs = [e.seq for e in events]
    if seqs != list(range(1, len(events) + 1)):
        problems.append(f"event seqs are not 1..{len(events)}: {seqs}")
    by_run: dict[str, list[str]] = {}
    final_cost: dict[str, float] = {}
    for e in events:
        by_run.setdefault(e.orchestration_id, []).append(e.type)
        if e.type in _FINAL:
            final_cost[e.orchestration_id] = e.total_cost  # type: ignore[union-attr]
    for o in orchestrations:
        problems += _run_problems(o, by_run.get(o.id, []), final_cost)
    return problems


def _run_problems(o: Orchestration, types: list[str], final_cost: dict[str, float]) -> list[str]:
    n = Counter(types)
    what = f"orchestration {o.id} ({o.status}, {len(o.iterations)} iterations)"
    answered = sum(it.response is not None for it in o.iterations)
    evaluated = sum(it.evaluation is not None for it in o.iterations)
    if o.status == "pending":
        return [f"{what} is pending but has events {types}"] if types else []
    problems: list[str] = []
    if n["orchestration_started"] != 1 or types[0] != "orchestration_started":
        problems.append(f"{what}: events do not start with one orchestration_started: {types}")
    if n["response_generated"] != answered:
        problems.append(f"{what}: {n['response_generated']} response_generated for {answered} stored answers")
    if n["evaluation_completed"] != evaluated:
        problems.append(f"{what}: {n['evaluation_completed']} evaluation_completed for {evaluated} evaluations")
    if n["model_selected"] < len(o.iterations):
        problems.append(f"{what}: {n['model_selected']} model_selected for {len(o.iterations)} iterations")
    finals = n["orchestration_completed"] + n["orchestration_failed"]
    if o.status in TERMINAL_ORCHESTRATION_STATUSES:
        if finals != 1 or types[-1] not in _FINAL:
            problems.append(f"{what}: ended, but its events do not end with one final event: {types}")
        elif to_pico(final_cost[o.id]) != to_pico(o.total_cost):
            problems.append(f"{what}: final event says ${final_cost[o.id]!r}, stored ${o.total_cost!r}")
    elif finals:
        problems.append(f"{what}: still {o.status} but has a final event")
    return problems
