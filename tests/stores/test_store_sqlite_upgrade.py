"""Upgrading a SQLite store written by an earlier release: what it recorded reads back as the current version
would have recorded it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from orchestratex import Orchestrator, SQLiteStore
from orchestratex.routing import BayesianRouter

from ..helpers import NO_WAIT, answer_attempt, catalog, score_of_answer, scripted
from .sqlite_v1 import V1_DDL

_CALL_STATS = V1_DDL[
    V1_DDL.index("CREATE TABLE IF NOT EXISTS call_stats") : V1_DDL.index("CREATE TABLE IF NOT EXISTS events")
]
_CANCEL_REQUESTS = V1_DDL[
    V1_DDL.index("CREATE TABLE IF NOT EXISTS cancel_requests") : V1_DDL.index("CREATE TABLE IF NOT EXISTS counters")
]
FIRST_RELEASE_DDL = V1_DDL.replace(_CALL_STATS, "").replace(_CANCEL_REQUESTS, "")
"""Version 1 as first released: no `call_stats` (nor its trigger) and no `cancel_requests`."""

_COLUMNS = "id, session_id, thread_id, user_id, status, domain, final_score, total_pico, iterations, created_at"


async def _to_first_release(source: Path, target: Path) -> None:
    """Copy the database `source` into a new file `target` as the first release of version 1 wrote it."""
    async with SQLiteStore(source) as store:
        docs = await store.list_orchestrations(limit=1000)
    conn = sqlite3.connect(target, isolation_level=None)
    conn.executescript(FIRST_RELEASE_DDL)
    conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.execute("ATTACH DATABASE ? AS v2", (str(source),))
    conn.execute(
        "INSERT INTO sessions SELECT id, user_id, status, created_at, total_pico, reserved_pico, limit_pico,"
        " event_seq, doc FROM v2.sessions"
    )
    for table in ("threads", "calls", "events", "reservations", "counters", "routing_stats", "api_keys"):
        conn.execute(f"INSERT INTO {table} SELECT * FROM v2.{table}")
    conn.execute(
        f"INSERT INTO orchestrations ({_COLUMNS}, updated_at, lease_owner, lease_expires, doc)"
        f" SELECT {_COLUMNS}, updated_at, lease_owner, lease_expires, '{{}}' FROM v2.orchestrations"
    )
    for doc in docs:
        conn.execute("UPDATE orchestrations SET doc = ? WHERE id = ?", (doc.model_dump_json(), doc.id))
    conn.execute("DETACH DATABASE v2")
    conn.close()


async def test_analytics_of_a_first_release_file_count_the_calls_made_before_the_upgrade(tmp_path: Path) -> None:
    source, path = tmp_path / "now.db", tmp_path / "first.db"
    provider = scripted(answer_attempt, score_of_answer({1: 5.0, 2: 9.0}))
    orchestrator = Orchestrator(
        providers=[provider],
        catalog=catalog("a", "b", "c"),
        store=SQLiteStore(source),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        judges=["function:b", "function:c"],
    )
    async with orchestrator as orch:
        session = await orch.create_session("alice")
        await orch.run("Hello", session=session, max_iterations=3, evaluation_threshold=8)
        await orch.run("Again", session=session, max_iterations=1)
        store = orch.store
        user, by_session = await store.user_analytics("alice"), await store.session_analytics(session.id)
        models = {m.model_name: await store.model_stats(m.model_name) for m in user.models}
    assert user.models and user.input_tokens and user.latency_p50_ms is not None  # (something to lose)
    await _to_first_release(source, path)

    async with SQLiteStore(path) as upgraded:
        assert await upgraded.user_analytics("alice") == user
        assert await upgraded.session_analytics(session.id) == by_session
        assert {name: await upgraded.model_stats(name) for name in models} == models
    async with SQLiteStore(path) as reopened:  # summed once: opening it again counts nothing twice
        assert await reopened.user_analytics("alice") == user
