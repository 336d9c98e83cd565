"""Store figures: the cost of `commit` (the orchestrator's hot path) and of analytics over a large history.

    .venv/bin/python benchmarks/analytics.py [--orchestrations 100000] [--commits 2000]

1. `commit` cost: one orchestration step (the orchestration document with two iterations, one event,
   one call record, spent + released) committed over and over, on a SQLiteStore file and on a
   MemoryStore; `reserve_budget` too. The baseline is one empty round trip to the SQLite worker thread
   (the hop every SQLiteStore call pays), measured in the same run.
2. Analytics: a temporary SQLite file is filled with one user's 100,000 orchestrations (~300,000 call
   records, over 1,000 sessions) plus 20% other users' data. Loading goes through `executemany` on
   the store's own schema and row mapping (committing 100k orchestrations one by one would take
   minutes); the figures are of the store's own `user_analytics` / `session_analytics` / `model_stats`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from _args import positive_int

from orchestratex.events import ModelSelected
from orchestratex.records import (
    CallRecord,
    Evaluation,
    Iteration,
    Orchestration,
    Session,
    SessionSettings,
    Thread,
)
from orchestratex.stores import MemoryStore, SQLiteStore, Store
from orchestratex.stores.sqlite._orchestrations import insert_orchestration, split
from orchestratex.stores.sqlite._rows import INSERT_CALL, INSERT_SESSION, call_row
from orchestratex.stores.sqlite._schema import connect
from orchestratex.usage import Usage

MODELS = ["openai:gpt-4.1", "anthropic:claude-sonnet-4", "gemini:gemini-2.5-pro", "sim:alpha", "sim:beta"]
DOMAINS = ["coding", "writing", "analysis", "math", "general"]
STATUSES = ["completed"] * 8 + ["failed", "cancelled"]


def _quantiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return samples[len(samples) // 2], samples[min(len(samples) - 1, int(len(samples) * 0.99))]


async def _time(fn: Callable[[], Awaitable[object]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - start) * 1e6)
    return out


def _step(o: Orchestration) -> tuple[ModelSelected, CallRecord]:
    event = ModelSelected(
        orchestration_id=o.id,
        thread_id=o.thread_id,
        session_id=o.session_id,
        model_name="sim:alpha",
        reasoning="best observed score for coding",
        iteration=1,
    )
    call = CallRecord(
        orchestration_id=o.id,
        session_id=o.session_id,
        user_id=o.user_id,
        model_name="sim:alpha",
        role="generate",
        domain="coding",
        cost=0.00042,
        input_tokens=120,
        output_tokens=380,
        latency_ms=812.5,
        score=7.5,
    )
    return event, call


async def bench_commit(store: Store, n: int) -> dict[str, list[float]]:
    session = await store.create_session(Session(user_id="bench", settings=SessionSettings(cost_limit=1e6)))
    thread = await store.create_thread(Thread(session_id=session.id, user_id="bench", original_prompt="p"))
    o = Orchestration(thread_id=thread.id, session_id=session.id, user_id="bench", prompt="Write a sort in Rust")
    o.iterations = [
        Iteration(
            index=i,
            model_name="sim:alpha",
            prompt="Write a sort in Rust",
            phase="evaluated",
            response="fn sort(v: &mut Vec<i32>) { v.sort() }" * 10,
            usage=Usage(input_tokens=120, output_tokens=380),
            cost=0.00042,
            evaluation=Evaluation(score=7.5, feedback="fine", judge_models=["sim:beta"]),
        )
        for i in (1, 2)
    ]
    o = await store.create_orchestration(o)

    steps = iter([_step(o) for _ in range(n)])  # built beforehand: only the store's work is timed

    async def commit() -> None:
        event, call = next(steps)
        await store.commit(o, [event], calls=[call], spent=0.00042, released=0.001)

    async def reserve() -> None:
        await store.reserve_budget(session.id, o.id, 0.001)

    figures = {"commit": await _time(commit, n), "reserve_budget": await _time(reserve, n)}
    events = await store.list_events(session.id, limit=n + 1)
    assert [e.seq for e in events] == list(range(1, n + 1))
    return figures


async def bench_hop(store: SQLiteStore, n: int) -> list[float]:
    worker = store._worker
    assert worker is not None
    return await _time(lambda: worker.run(int), n)


def bulk_load(path: Path, user_orchestrations: int, seed: int = 7) -> list[str]:
    """Fill the (already created) schema; return the benchmark user's session ids."""
    rng = random.Random(seed)
    conn = connect(str(path))
    conn.execute("BEGIN")
    users = [("bench-user", user_orchestrations)] + [(f"other-{i}", user_orchestrations // 50) for i in range(10)]
    total, done = sum(count for _, count in users), 0
    sessions_of_user: list[str] = []
    for user, count in users:
        per_session = 100
        for s in range((count + per_session - 1) // per_session):
            session = Session(user_id=user)
            thread = Thread(session_id=session.id, user_id=user, original_prompt="p")
            conn.execute(
                INSERT_SESSION,
                (session.id, user, "active", session.created_at.timestamp(), 0, None, session.model_dump_json()),
            )
            conn.execute(
                "INSERT INTO threads VALUES (?, ?, ?, ?, ?)",
                (thread.id, session.id, user, thread.created_at.timestamp(), thread.model_dump_json()),
            )
            if user == "bench-user":
                sessions_of_user.append(session.id)
            rows, calls = [], []
            for _ in range(min(per_session, count - s * per_session)):
                n_it = rng.randint(1, 3)
                score = round(rng.uniform(3, 10), 2) if rng.random() < 0.9 else None
                o = Orchestration(
                    thread_id=thread.id,
                    session_id=session.id,
                    user_id=user,
                    prompt="p",
                    domain=rng.choice(DOMAINS),
                    status=rng.choice(STATUSES),
                    final_score=score,
                    total_cost=round(rng.uniform(0, 0.05), 6),
                    iterations=[Iteration(index=i + 1, model_name="m", prompt="p") for i in range(n_it)],
                )
                rows.append(o)
                for k in range(3):  # ~3 calls per orchestration: generation + judges
                    calls.append(
                        call_row(
                            CallRecord(
                                orchestration_id=o.id,
                                session_id=session.id,
                                user_id=user,
                                model_name=rng.choice(MODELS),
                                role="generate" if k == 0 else "judge",
                                domain=o.domain or "general",
                                cost=round(rng.uniform(0, 0.01), 6),
                                input_tokens=rng.randint(50, 2000),
                                output_tokens=rng.randint(10, 800),
                                latency_ms=round(rng.lognormvariate(6.5, 0.6), 3),
                                score=score,
                                error="timeout" if rng.random() < 0.02 else None,
                            )
                        )
                    )
            for o in rows:
                insert_orchestration(conn, split(o))
            conn.executemany(INSERT_CALL, calls)
            done += len(rows)
            if done % 10_000 < len(rows) or done == total:
                print(f"\r  loading: {done:,} of {total:,} orchestrations", end="", flush=True, file=sys.stderr)
    print(file=sys.stderr)
    conn.execute("COMMIT")
    conn.close()
    return sessions_of_user


def _report(name: str, samples: list[float], unit: str = "µs", scale: float = 1.0) -> None:
    p50, p99 = _quantiles([s * scale for s in samples])
    print(f"  {name:<34} p50 {p50:9.1f} {unit}   p99 {p99:9.1f} {unit}   mean {statistics.fmean(samples) * scale:9.1f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orchestrations", type=positive_int, default=100_000)
    parser.add_argument("--commits", type=positive_int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        print(f"commit cost ({args.commits} sequential calls each):")
        async with SQLiteStore(Path(tmp) / "commit.db") as sqlite_store:
            await bench_hop(sqlite_store, 200)  # warm-up
            hop = await bench_hop(sqlite_store, args.commits)
            figures = await bench_commit(sqlite_store, args.commits)
        _report("baseline: empty SQLite worker hop", hop)
        _report("SQLiteStore.commit", figures["commit"])
        _report("SQLiteStore.reserve_budget", figures["reserve_budget"])
        memory = await bench_commit(MemoryStore(), args.commits)
        _report("MemoryStore.commit", memory["commit"])
        _report("MemoryStore.reserve_budget", memory["reserve_budget"])
        print(f"  commit / hop ratio: {statistics.median(figures['commit']) / statistics.median(hop):.2f}")

        path = Path(tmp) / "analytics.db"
        async with SQLiteStore(path):
            pass  # creates the schema
        start = time.perf_counter()
        sessions = bulk_load(path, args.orchestrations)
        loaded = time.perf_counter() - start
        size_mb = os.path.getsize(path) / 1e6
        async with SQLiteStore(path) as store:
            first = await store.user_analytics("bench-user")
            print(
                f"\nanalytics over {first.orchestrations:,} orchestrations of one user"
                f" ({sum(m.calls for m in first.models):,} calls; file {size_mb:.0f} MB, loaded in {loaded:.1f} s):"
            )
            user = await _time(lambda: store.user_analytics("bench-user"), 30)
            rng = random.Random(1)
            session = await _time(lambda: store.session_analytics(rng.choice(sessions)), 200)
            model = await _time(lambda: store.model_stats(MODELS[0]), 10)
        _report("SQLiteStore.user_analytics", user, "ms", 1e-3)
        _report("SQLiteStore.session_analytics", session, "ms", 1e-3)
        _report("SQLiteStore.model_stats (all users)", model, "ms", 1e-3)


if __name__ == "__main__":
    asyncio.run(main())
