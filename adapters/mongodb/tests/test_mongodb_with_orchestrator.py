"""The orchestrator end to end on `MongoStore` (mongomock stand-in): a full run, then a process that dies
in the middle of a commit and another process that resumes the orchestration from the store."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

from orchestratex import BayesianRouter, Orchestrator, SimulatedProvider
from orchestratex.exceptions import StoreError
from orchestratex.usage import add_costs
from orchestratex_mongodb import MongoStore


class Crash(BaseException):
    """The process dies here."""


def _orchestrator(client: Any, **options: Any) -> Orchestrator:
    store = MongoStore(client=client, retry_backoff_s=0)
    return Orchestrator(providers=[SimulatedProvider(seed=3, latency_scale=0)], store=store, **options)


async def test_a_run_on_mongodb_is_stored_like_on_sqlite(mock_client_factory: Callable[[], Any]) -> None:
    orchestrator = _orchestrator(mock_client_factory())
    async with orchestrator:
        result = await orchestrator.run("Write a Python function that reverses a list", cost_limit=0.5)
        store = orchestrator.store
        stored = await store.get_orchestration(result.id)
        assert stored.status == "completed" and stored.final_response == result.final_response
        events = await store.list_events(stored.session_id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert events[0].type == "orchestration_started" and events[-1].type == "orchestration_completed"
        session = await store.get_session(stored.session_id)
        assert session.total_cost == stored.total_cost <= 0.5 and session.reserved_cost == 0.0
        analytics = await store.session_analytics(stored.session_id)
        assert analytics.orchestrations == 1 and analytics.total_cost == stored.total_cost
        assert await store.list_resumable() == []


@pytest.mark.parametrize("crash_on_commit", [1, 2, 3])  # every run commits events at least 3 times
async def test_a_run_that_dies_mid_commit_is_resumed_by_another_process(
    mock_client_factory: Callable[[], Any], crash_on_commit: int
) -> None:
    client = mock_client_factory()
    first = _orchestrator(client, lease_ttl_s=0.2)
    await first.store.open()
    o = await first.prepare("Explain the CAP theorem briefly", cost_limit=1.0)
    client.faults.fail("events", "insert_many", Crash(), skip=crash_on_commit - 1)  # dies inside that commit
    with pytest.raises(Crash):
        await first.drive(o)
    session_id = o.session_id
    journal = client.get_database("orchestratex").raw("commits")
    assert journal.count_documents({}) == 1  # the step was decided, its events not yet written
    before = [e.type for e in await first.store.list_events(session_id)]
    assert "orchestration_completed" not in before

    await asyncio.sleep(0.3)  # the dead process's lease expires
    second = _orchestrator(client, lease_ttl_s=5)
    async with second:
        results = await second.resume_pending()  # (nothing to resume if the crash was in the last step)
        assert [r.id for r in results] in ([o.id], []) and all(r.status == "completed" for r in results)
        store = second.store
        events = await store.list_events(session_id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        types = [e.type for e in events]
        assert types[: len(before)] == before and journal.count_documents({}) == 0
        assert types.count("orchestration_completed") == 1 and types[-1] == "orchestration_completed"
        stored = await store.get_orchestration(o.id)
        assert stored.status == "completed" and stored.final_response
        session = await store.get_session(session_id)
        assert session.reserved_cost == 0.0
        assert session.total_cost == stored.total_cost <= 1.0
        paid = [e for e in events if e.type == "response_generated"]
        assert add_costs(*(e.cost for e in paid)) <= session.total_cost


@pytest.mark.parametrize(
    ("collection", "lost_reply"),
    [("threads", True), ("orchestrations", False), ("orchestrations", True), ("commits", False)],
)
async def test_a_network_blip_while_a_run_starts_is_retried_not_a_conflict(
    mock_client_factory: Callable[[], Any], collection: str, lost_reply: bool
) -> None:
    # The run's start is several writes; one failing after the others (or one applied whose reply was lost)
    # raises StoreUnavailable, which the orchestrator retries: the retry must take the first attempt's thread
    # and orchestration for its own (it answered "thread ... already exists" and the run failed).
    client = mock_client_factory()
    orchestrator = _orchestrator(client)
    orchestrator.store._run.retries = 0  # type: ignore[attr-defined]  # the blip reaches the orchestrator
    async with orchestrator:
        error = AutoReconnect("reply lost") if lost_reply else ServerSelectionTimeoutError("no primary")
        client.faults.fail(collection, "insert_one", error, after=lost_reply)
        result = await orchestrator.run("Explain write concern majority", cost_limit=0.5)
        assert result.status == "completed"
        store = orchestrator.store
        assert [o.id for o in await store.list_orchestrations(session_id=result.orchestration.session_id)] == [
            result.id
        ]
        assert len(await store.list_threads(result.orchestration.session_id)) == 1
        events = await store.list_events(result.orchestration.session_id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert [e.type for e in events].count("orchestration_started") == 1
        assert (await store.get_session(result.orchestration.session_id)).reserved_cost == 0.0


async def test_a_start_whose_last_read_failed_is_completed_by_its_retry(mock_client_factory: Callable[[], Any]) -> None:
    # The start's events and reservation were written, then its read of the session (what the start left) failed
    # past the store's own retries (an election): the orchestrator's retry answered "Conflict: orchestration …
    # already exists" (its commit had moved the run on), `run()` raised it, and the run stayed leased and running.
    client = mock_client_factory()
    orchestrator = _orchestrator(client)
    orchestrator.store._run.retries = 0  # type: ignore[attr-defined]  # the blip reaches the orchestrator
    async with orchestrator:
        # (the start reads the session first, then again once it reserved)
        client.faults.fail("sessions", "find_one", AutoReconnect("no primary"), skip=1)
        result = await orchestrator.run("Explain write concern majority", cost_limit=0.5)
        assert not client.faults.pending  # the fault was met
        assert result.status == "completed"
        store = orchestrator.store
        session_id = result.orchestration.session_id
        assert [o.id for o in await store.list_orchestrations(session_id=session_id)] == [result.id]
        events = await store.list_events(session_id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert [e.type for e in events].count("orchestration_started") == 1  # stored once
        assert [e.type for e in events].count("model_selected") == len(result.orchestration.iterations)
        session = await store.get_session(session_id)
        assert session.reserved_cost == 0.0 and session.total_cost == result.total_cost


async def test_a_start_retried_after_its_commit_failed_reserves_once(mock_client_factory: Callable[[], Any]) -> None:
    # The start's commit failed (nothing written) while its reservation, made at the same time, landed: the retry
    # reserved again, and the session held the first call's worst case twice until the call's commit.
    async def held_while_the_first_call_runs(fail: bool) -> int:
        client = mock_client_factory()
        sessions = client.get_database("orchestratex").raw("sessions")
        held: list[int] = []
        orchestrator = _orchestrator(
            client,
            router=BayesianRouter(seed=0),
            on_event=lambda e: (
                held.append(sessions.find_one({})["reserved_pico"]) if e.type == "model_selected" else None
            ),
        )
        orchestrator.store._run.retries = 0  # type: ignore[attr-defined]
        async with orchestrator:
            if fail:
                client.faults.fail("commits", "insert_one", ServerSelectionTimeoutError("no primary"))
            result = await orchestrator.run("Explain write concern majority", cost_limit=0.5, max_iterations=1)
            assert result.status == "completed" and not client.faults.pending
        assert sessions.find_one({})["reserved_pico"] == 0
        return held[0]

    assert await held_while_the_first_call_runs(fail=True) == await held_while_the_first_call_runs(fail=False) > 0


@pytest.mark.parametrize("store_retries", [3, 0])  # 0: the orchestrator's `with_store_retries` retries it
async def test_a_reservation_whose_reply_is_lost_is_held_once_during_a_run(
    mock_client_factory: Callable[[], Any], store_retries: int
) -> None:
    # The $inc of a reservation applied, its reply lost, retried: the session held the call's worst case twice
    # until the run's final commit (so other runs of the session were refused budget they could afford).
    client = mock_client_factory()
    sessions = client.get_database("orchestratex").raw("sessions")
    held: dict[str, list[int]] = {}  # what the session holds reserved at each event of the run, by type
    orchestrator = _orchestrator(
        client, on_event=lambda e: held.setdefault(e.type, []).append(sessions.find_one({})["reserved_pico"])
    )
    orchestrator.store._run.retries = store_retries  # type: ignore[attr-defined]
    attempts = itertools.count()
    client.faults.fail(  # every reservation: its first attempt applied, then its reply lost
        "sessions",
        "find_one_and_update",
        AutoReconnect("reply lost"),
        after=True,
        times=1000,
        where=lambda *args, **kwargs: _is_reservation(*args, **kwargs) and next(attempts) % 2 == 0,
    )
    async with orchestrator:
        result = await orchestrator.run("Write a Python function that reverses a list", cost_limit=0.5)
        assert result.status == "completed"
    assert next(attempts) >= 2  # the faults were met
    assert max(held["model_selected"]) > 0
    assert set(held["evaluation_completed"]) == {0}  # each step's commit frees what the step held
    assert sessions.find_one({})["reserved_pico"] == 0 and sessions.find_one({})["reserve_tokens"] == {}


def _is_reservation(query: dict[str, Any], update: Any, **options: Any) -> bool:
    return isinstance(update, dict) and "reserved_pico" in update.get("$inc", {})


async def test_a_step_over_mongodbs_16_mb_document_limit_is_a_store_error(
    mock_client_factory: Callable[[], Any],
) -> None:
    # PyMongo refuses such a document with `DocumentTooLarge`, which is not a PyMongoError: it escaped the
    # store as a raw bson exception. A ~9.6 MB prompt is stored twice in the first commit's journal entry.
    client = mock_client_factory()
    async with _orchestrator(client) as orchestrator:
        with pytest.raises(
            StoreError, match=r"journaling a commit failed: BSON document too large.*16 MB per document"
        ):
            await orchestrator.run("Summarise: " + "lorem ipsum " * 800_000, cost_limit=50)
    assert client.get_database("orchestratex").raw("commits").count_documents({}) == 0  # nothing half-written


async def test_a_run_just_prepared_is_left_to_its_orchestrator_by_another_process(
    mock_client_factory: Callable[[], Any],
) -> None:
    """`prepare` leases the run to its orchestrator for `lease_ttl_s`, once: another process's resume pass on the
    same MongoDB (a server's) leaves it to that orchestrator's `drive` (it ran it as "left by a stopped process")."""
    client = mock_client_factory()
    async with _orchestrator(client, lease_ttl_s=30) as app, _orchestrator(client, lease_ttl_s=30) as server:
        o = await app.prepare("Explain the CAP theorem briefly", cost_limit=1.0)
        assert await server.resume_pending() == []
        assert (await app.drive(o)).status == "completed"
        assert await server.resume_pending() == []
        other = await app.prepare("Explain the CAP theorem again", cost_limit=1.0)
    async with _orchestrator(client, lease_ttl_s=30) as server:
        (resumed,) = await server.resume_pending()  # (given up as the application closed)
    assert resumed.orchestration.id == other.id and resumed.status == "completed"
