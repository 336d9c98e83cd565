"""MongoStore beyond the shared contract, on the mongomock stand-in: URLs and discovery, failing fast,
bounded retries, crashes between the writes of a commit, several processes on one database, and
`watch_events` by polling. Transactions and change streams are in `test_mongodb_real_server.py` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId
from bson.errors import InvalidDocument
from pymongo.errors import AutoReconnect, NetworkTimeout, OperationFailure

from orchestratex.events import Event, ModelSelected
from orchestratex.exceptions import ConfigurationError, Conflict, NotFound, StoreError, StoreUnavailable, UserError
from orchestratex.records import CallRecord, Iteration, Orchestration, Session, SessionSettings, Thread
from orchestratex.stores import MemoryStore, SQLiteStore, store_from_url
from orchestratex_mongodb import MongoStore, redact_url

Factory = Callable[[], Any]


class Crash(BaseException):
    """The process dies here (nothing in the store catches it)."""


@pytest.fixture
def client(mock_client_factory: Factory) -> Any:
    return mock_client_factory()


@pytest.fixture
async def store(client: Any) -> AsyncIterator[MongoStore]:
    async with MongoStore(client=client, retry_backoff_s=0) as store:
        yield store


async def _tree(store: MongoStore, cost_limit: float | None = None) -> tuple[Session, Orchestration]:
    session = await store.create_session(Session(user_id="alice", settings=SessionSettings(cost_limit=cost_limit)))
    thread = await store.create_thread(Thread(session_id=session.id, user_id="alice", original_prompt="p"))
    o = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p")
    return session, await store.create_orchestration(o)


def _selected(o: Orchestration, iteration: int) -> ModelSelected:
    return ModelSelected(
        orchestration_id=o.id,
        thread_id=o.thread_id,
        session_id=o.session_id,
        model_name="sim:alpha",
        reasoning="r",
        iteration=iteration,
    )


def _call(o: Orchestration, cost: float = 0.25) -> CallRecord:
    return CallRecord(
        orchestration_id=o.id,
        session_id=o.session_id,
        user_id=o.user_id,
        model_name="sim:alpha",
        role="generate",
        domain="general",
        cost=cost,
        latency_ms=10.0,
        score=7.0,
    )


def _seqs(events: list[Event]) -> list[int]:
    return [e.seq for e in events]


# -- URLs, discovery, lifecycle ---------------------------------------------------------------------


def test_store_urls_resolve_through_the_entry_point() -> None:
    store = store_from_url("mongodb+srv://bob:hunter2@cluster0.example.net/prod?retryWrites=true")
    assert isinstance(store, MongoStore)
    assert store.database == "prod"
    assert "hunter2" not in repr(store) and "bob:***@" in repr(store)
    assert MongoStore.from_url("mongodb://localhost:27017").database == "orchestratex"
    assert MongoStore("mongodb://h/a", database="b").database == "b"
    assert MongoStore().url == "mongodb://localhost:27017/orchestratex"
    with pytest.raises(ConfigurationError, match=r"mongodb://.*postgres://u:\*\*\*@"):
        MongoStore("postgres://u:pw@localhost/db")


@pytest.mark.parametrize("url", ["mongodb:", "mongodb:localhost", "mongodb:app:pw@db/runs", "mongodb:/localhost"])
def test_a_url_without_its_slashes_says_how_a_mongodb_url_starts(url: str) -> None:
    # `mongodb:` alone (or `mongodb:host`) was taken, and `open()` then failed with PyMongo's "Port contains non-digit
    # characters. Hint: username and password must be escaped ..."
    with pytest.raises(ConfigurationError) as refused:
        store_from_url(url)
    assert str(refused.value) == (
        f"a MongoDB store URL starts with mongodb:// or mongodb+srv://, not {redact_url(url)!r}"
    )
    assert "pw" not in str(refused.value)


def test_an_injected_client_is_named_as_such(client: Any) -> None:
    store = MongoStore(client=client)
    assert store.url is None and store.database == "orchestratex"
    assert repr(store) == "MongoStore('an injected client', database='orchestratex')"


def test_redact_url() -> None:
    assert (
        redact_url("mongodb://u:p%40ss@h1:1,h2:2/db?authSource=admin")
        == "mongodb://u:***@h1:1,h2:2/db?authSource=admin"
    )
    assert redact_url("mongodb+srv://user:secret@c.example.net") == "mongodb+srv://user:***@c.example.net"
    assert redact_url("mongodb://localhost/db") == "mongodb://localhost/db"
    assert redact_url("mongodb://onlyuser@h/db") == "mongodb://onlyuser@h/db"


def test_open_fails_fast_with_the_password_redacted() -> None:
    # In a subprocess: PyMongo's async client leaves a socket unclosed after a refused connection (a
    # ResourceWarning that `filterwarnings = error` would raise later in an unrelated test).
    code = (
        "import asyncio\n"
        "from orchestratex_mongodb import MongoStore\n"
        "store = MongoStore('mongodb://alice:s3cret-pw@127.0.0.1:9/x', server_selection_timeout_ms=200)\n"
        "try:\n"
        "    asyncio.run(store.open())\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
        "try:\n"
        "    asyncio.run(store.get_session('0' * 24))\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    failed_open, not_open = out.splitlines()[:2]
    assert failed_open.startswith("StoreUnavailable cannot reach MongoDB at mongodb://alice:***@127.0.0.1:9/x")
    assert "127.0.0.1:9: [Errno 111]" in failed_open  # (why, once: not PyMongo's topology dump saying it again)
    assert "Topology Description" not in failed_open and failed_open.count("Errno 111") == 1
    assert "s3cret-pw" not in out
    assert not_open.startswith("StoreError") and "is not open" in not_open


async def test_open_reports_an_invalid_url_as_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"u:\*\*\*@h:99999.*Port must be"):
        await MongoStore("mongodb://u:pw@h:99999/db").open()


async def test_open_creates_indexes_idempotently_and_close_keeps_an_injected_client(client: Any) -> None:
    store = MongoStore(client=client)
    await store.open()
    await store.open()
    db = client.get_database("orchestratex")
    events = db.raw("events").index_information()
    assert any(spec.get("unique") and spec["key"] == [("session_id", 1), ("seq", 1)] for spec in events.values())
    counters = db.raw("counters").index_information()
    assert any(spec.get("expireAfterSeconds") == 0 for spec in counters.values())
    await store.close()
    assert not client.closed
    assert store.transactions is False and store.change_streams is False  # a standalone server


async def test_documents_use_object_ids_and_exact_integer_amounts(store: MongoStore, client: Any) -> None:
    session, o = await _tree(store, cost_limit=1.0)
    assert await store.reserve_budget(session.id, o.id, 0.3)
    await store.commit(o, [_selected(o, 1)], calls=[_call(o, 0.1)], spent=0.1, released=0.3)
    db = client.get_database("orchestratex")
    raw = db.raw("sessions").find_one({"_id": ObjectId(session.id)})
    assert raw is not None and raw["total_pico"] == 100_000_000_000
    assert raw["reserved_pico"] == 0 and raw["reservations"] == {} and raw["pending"] == {}
    assert db.raw("orchestrations").find_one({"_id": ObjectId(o.id)}) is not None
    assert db.raw("calls").find_one({"orchestration_id": o.id})["cost_pico"] == 100_000_000_000
    assert db.raw("commits").count_documents({}) == 0


async def test_the_overage_of_analytics_is_summed_exactly_as_in_the_built_in_stores(
    store: MongoStore, client: Any
) -> None:
    # it was a `$sum` of the documents' float `overage_cost`: over 300 runs of a few hundred dollars' overage each,
    # $66,684.66660660741 where MemoryStore and SQLiteStore (exact pico-dollars) say $66,684.66660660738
    overages = [123.456789012, 0.000000000123, 987.654321098, 0.1, 0.2]
    amounts = [overages[i % 5] for i in range(300)]
    memory = MemoryStore()
    sessions = []
    for each in (store, memory):
        session = await each.create_session(Session(user_id="alice"))
        thread = await each.create_thread(Thread(session_id=session.id, user_id="alice", original_prompt="p"))
        for amount in amounts:
            run = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p")
            await each.create_orchestration(run)
            run.status, run.total_cost, run.overage_cost = "completed", 1000.0, amount
            await each.commit(run)
        sessions.append(session.id)
    mongo_session = sessions[0]
    expected = (await memory.user_analytics("alice")).overage_cost
    assert expected == 66684.66660660738
    assert (await store.session_analytics(mongo_session)).overage_cost == expected
    assert (await store.user_analytics("alice")).overage_cost == expected
    # a document written before `overage_pico` was kept (its float `overage_cost` only) still counts
    db = client.get_database("orchestratex")
    old = db.raw("orchestrations").find_one({"session_id": mongo_session, "overage_cost": 0.1})
    assert old is not None and old["overage_pico"] == 100_000_000_000
    db.raw("orchestrations").update_one({"_id": old["_id"]}, {"$unset": {"overage_pico": ""}})
    assert (await store.session_analytics(mongo_session)).overage_cost == expected


async def test_bad_orchestration_ids_cannot_become_field_names(store: MongoStore) -> None:
    session, _ = await _tree(store)
    for bad in ("a.b", "$x", ""):
        with pytest.raises(UserError, match="cannot be stored"):
            await store.reserve_budget(session.id, bad, 0.1)


async def test_argument_errors_are_user_errors_as_in_the_built_in_stores(store: MongoStore, client: Any) -> None:
    # they were plain ValueErrors, outside the library's tree (docs/errors.md: every error is an OrchestrateXError),
    # where MemoryStore and SQLiteStore raise a UserError with the same message: `except UserError` missed them
    session = Session(user_id="u", reserved_cost=0.5)
    for other in (MemoryStore(), SQLiteStore()):
        async with other:
            with pytest.raises(UserError, match="cannot hold reserved budget"):
                await other.create_session(session)
    with pytest.raises(UserError, match="cannot hold reserved budget"):
        await store.create_session(session)
    for kwargs in ({"retries": -1}, {"retry_backoff_s": float("nan")}, {"server_selection_timeout_ms": 0}):
        with pytest.raises(UserError, match="must be"):
            MongoStore(client=client, **kwargs)
    # a str (read from an environment variable) failed with "TypeError: '>' not supported between instances of 'str'
    # and 'int'", naming no argument
    for name, value in (("server_selection_timeout_ms", "5000"), ("retries", 2.5), ("recover_after_s", None)):
        with pytest.raises(UserError, match=f"^MongoStore's {name} must be "):
            MongoStore(client=client, **{name: value})  # type: ignore[arg-type]


# -- retries and unavailability ---------------------------------------------------------------------


async def test_transient_errors_are_retried_a_bounded_number_of_times(store: MongoStore, client: Any) -> None:
    session, _ = await _tree(store)
    client.faults.fail("sessions", "find_one", AutoReconnect("connection reset"), times=2)
    assert (await store.get_session(session.id)).id == session.id
    client.faults.fail("sessions", "find_one", NetworkTimeout("timed out"), times=4)
    with pytest.raises(StoreError, match=r"unavailable.*after 4 attempts"):
        await store.get_session(session.id)


async def test_a_refused_write_is_retried_and_applied_once(store: MongoStore, client: Any) -> None:
    session, o = await _tree(store, cost_limit=1.0)
    client.faults.fail("sessions", "find_one_and_update", AutoReconnect("primary stepped down"))
    assert await store.reserve_budget(session.id, o.id, 0.5)
    assert client.faults.calls["sessions.find_one_and_update"] == 2
    assert (await store.get_session(session.id)).reserved_cost == 0.5


# -- lost replies to writes that are not idempotent by nature ($inc) -------------------------------------


def _is_reservation(query: dict[str, Any], update: Any, **options: Any) -> bool:
    return isinstance(update, dict) and "reserved_pico" in update.get("$inc", {})


async def _as_the_orchestrator(write: Callable[[], Any]) -> Any:
    """Call `write` as `with_store_retries` does: again after `StoreUnavailable`."""
    for _ in range(5):
        with contextlib.suppress(StoreUnavailable):
            return await write()
    return await write()


@pytest.mark.parametrize("store_retries", [3, 0])  # 0: the lost reply reaches the caller, which retries
async def test_a_reservation_whose_reply_is_lost_is_held_once(
    store: MongoStore, client: Any, store_retries: int
) -> None:
    # It was held twice (the caller retried the $inc after StoreUnavailable): budget the session could
    # afford was refused until the run's final commit.
    store._run.retries = store_retries
    session, o = await _tree(store, cost_limit=1.0)
    client.faults.fail(
        "sessions", "find_one_and_update", AutoReconnect("reply lost"), after=True, where=_is_reservation
    )
    assert await _as_the_orchestrator(lambda: store.reserve_budget(session.id, o.id, 0.4))
    assert (await store.get_session(session.id)).reserved_cost == 0.4
    assert await store.reserve_budget(session.id, o.id, 0.6)  # the rest still fits
    assert not await store.reserve_budget(session.id, o.id, 0.01)


async def test_a_reservation_whose_every_reply_is_lost_completes_on_the_next_call(
    store: MongoStore, client: Any
) -> None:
    session, o = await _tree(store, cost_limit=1.0)
    client.faults.fail(
        "sessions", "find_one_and_update", AutoReconnect("reply lost"), after=True, times=4, where=_is_reservation
    )
    with pytest.raises(StoreUnavailable, match="after 4 attempts"):
        await store.reserve_budget(session.id, o.id, 0.4)
    assert (await store.get_session(session.id)).reserved_cost == 0.4  # applied by the first attempt only
    assert await store.reserve_budget(session.id, o.id, 0.4)  # the same call again: recognised, not repeated
    assert (await store.get_session(session.id)).reserved_cost == 0.4
    assert await store.reserve_budget(session.id, o.id, 0.4)  # a new reservation
    assert (await store.get_session(session.id)).reserved_cost == 0.8


async def test_reservation_tokens_are_bounded_and_dropped_when_the_run_ends(store: MongoStore, client: Any) -> None:
    session, o = await _tree(store)
    for _ in range(40):
        assert await store.reserve_budget(session.id, o.id, 0.01)
    raw = client.get_database("orchestratex").raw("sessions")
    assert len(raw.find_one({})["reserve_tokens"][o.id]) == 16
    o.status = "completed"
    await store.commit(o, [_selected(o, 1)], spent=0.1)
    doc = raw.find_one({})
    assert doc["reserve_tokens"] == {} and doc["reservations"] == {} and doc["reserved_pico"] == 0
    assert await store.reserve_budget(session.id, o.id, 0.01)
    assert await store.release_reservations(session.id, o.id) == 0.01
    assert raw.find_one({})["reserve_tokens"] == {}


@pytest.mark.parametrize("store_retries", [3, 0])  # 0: the caller calls it again after StoreUnavailable
async def test_a_counter_whose_reply_is_lost_counts_once(client: Any, store_retries: int) -> None:
    # It counted twice (a rate limit then refused requests early; the storage quota charged bytes twice).
    async with MongoStore(client=client, retry_backoff_s=0) as a, MongoStore(client=client) as b:
        a._run.retries = store_retries
        assert await a.incr("rate:alice", ttl_s=60) == 1
        client.faults.fail("counters", "find_one_and_update", AutoReconnect("reply lost"), after=True)
        if store_retries:
            assert await a.incr("rate:alice", ttl_s=60) == 2
            assert await b.incr("rate:alice", ttl_s=60) == 3
        else:
            with pytest.raises(StoreUnavailable):
                await a.incr("rate:alice", ttl_s=60)
            assert await b.incr("rate:alice", ttl_s=60) == 3  # another process counts meanwhile
            assert await a.incr("rate:alice", ttl_s=60) == 2  # the lost increment's own value, not a new one
        assert await b.incr("rate:alice", 0) == 3


async def test_a_routing_outcome_whose_reply_is_lost_is_recorded_once(store: MongoStore, client: Any) -> None:
    outcome = {"domain": "code", "model_name": "sim:alpha", "score": 8.0, "cost": 0.1, "latency_ms": 5.0}
    for _ in range(2):  # the first creates the statistics (an upsert), the second increments them
        client.faults.fail("routing_stats", "update_one", AutoReconnect("reply lost"), after=True)
        await store.record_routing_outcome("r", output_tokens=3, **outcome)  # type: ignore[arg-type]
    [stat] = await store.routing_stats("r")
    assert stat.n == 2 and stat.output_tokens_sum == 6


async def test_creating_a_record_is_not_repeated_after_a_lost_reply(store: MongoStore, client: Any) -> None:
    client.faults.fail("sessions", "insert_one", AutoReconnect("reply lost"), after=True)
    session = Session(user_id="alice")
    with pytest.raises(StoreError, match="unavailable"):  # not a Conflict with its own first attempt
        await store.create_session(session)
    assert client.faults.calls["sessions.insert_one"] == 1
    assert (await store.get_session(session.id)).id == session.id  # it was written after all


async def test_a_commit_that_cannot_start_changes_nothing(store: MongoStore, client: Any) -> None:
    session, o = await _tree(store)
    client.faults.fail("commits", "insert_one", AutoReconnect("down"), times=10)
    with pytest.raises(StoreError, match="unavailable"):
        await store.commit(o, [_selected(o, 1)], spent=0.5)
    assert (await store.get_session(session.id)).total_cost == 0.0
    assert await store.list_events(session.id) == []


async def test_a_commit_whose_session_update_outcome_is_unknown_is_not_unavailable(
    store: MongoStore, client: Any
) -> None:
    """`StoreUnavailable` promises nothing was written (the orchestrator retries it); a session update
    whose every reply was lost may have been applied, so it is a plain `StoreError`, rolled forward later."""
    session, o = await _tree(store)
    client.faults.fail("sessions", "find_one_and_update", AutoReconnect("reply lost"), after=True, times=10)
    client.faults.fail("sessions", "find_one", AutoReconnect("reply lost"), times=10)
    o.status = "running"
    with pytest.raises(StoreError, match="unknown") as caught:
        await store.commit(o, [_selected(o, 1)], spent=0.25)
    assert not isinstance(caught.value, StoreUnavailable)
    client.faults.pending.clear()
    assert await store.claim(o.id, "successor", 60)  # a takeover rolls the recorded step forward, once
    assert (await store.get_session(session.id)).total_cost == 0.25
    assert _seqs(await store.list_events(session.id)) == [1]


async def test_lost_replies_are_retried_idempotently(store: MongoStore, client: Any) -> None:
    session, o = await _tree(store)
    # each write is applied, then its reply is lost: the retries must not apply anything twice
    for coll, method in [
        ("commits", "insert_one"),
        ("sessions", "find_one_and_update"),
        ("orchestrations", "update_one"),
        ("events", "insert_many"),
        ("calls", "insert_many"),
    ]:
        client.faults.fail(coll, method, AutoReconnect("reply lost"), after=True)
    o.status = "running"
    events = await store.commit(o, [_selected(o, 1), _selected(o, 2)], calls=[_call(o)], spent=0.25)
    assert _seqs(list(events)) == [1, 2]
    assert (await store.get_session(session.id)).total_cost == 0.25
    assert _seqs(await store.list_events(session.id)) == [1, 2]
    assert (await store.model_stats("sim:alpha")).requests == 1
    assert (await store.get_orchestration(o.id)).status == "running"
    assert _seqs(list(await store.commit(o, [_selected(o, 3)]))) == [3]


# -- crashes in the middle of a commit ----------------------------------------------------------------


async def test_a_crash_before_the_session_update_changes_nothing(client: Any) -> None:
    journal = client.get_database("orchestratex").raw("commits")
    async with MongoStore(client=client) as first:
        session, o = await _tree(first)
        client.faults.fail("sessions", "find_one_and_update", Crash())
        with pytest.raises(Crash):
            await first.commit(o, [_selected(o, 1)], spent=0.5)
    assert journal.count_documents({}) == 1
    async with MongoStore(client=client, recover_after_s=1e-6) as second:  # the next process opens the store
        assert journal.count_documents({}) == 1  # kept an hour: its committer might only be slow
        assert (await second.get_session(session.id)).total_cost == 0.0
        assert await second.list_events(session.id) == []
        assert await second.claim(o.id, "second", 30)
        assert _seqs(list(await second.commit(o, [_selected(o, 1)]))) == [1]
    journal.update_many({}, {"$set": {"at": datetime.now(UTC) - timedelta(hours=2)}})
    async with MongoStore(client=client):
        assert journal.count_documents({}) == 0  # an orphan from long ago is dropped


@pytest.mark.parametrize("crash_at", ["orchestrations.update_one", "events.insert_many", "calls.insert_many"])
async def test_a_crash_after_the_session_update_is_rolled_forward_on_takeover(client: Any, crash_at: str) -> None:
    first = MongoStore(client=client)
    await first.open()
    session, o = await _tree(first, cost_limit=5.0)
    assert await first.claim(o.id, "process-1", 0.05)
    assert await first.commit(o, [_selected(o, 1)])
    assert await first.reserve_budget(session.id, o.id, 1.0)
    o.status, o.iterations = "running", [Iteration(index=1, model_name="sim:alpha", prompt="p", response="paid")]
    client.faults.fail(*crash_at.split("."), Crash())
    with pytest.raises(Crash):
        await first.commit(o, [_selected(o, 2), _selected(o, 3)], calls=[_call(o)], spent=0.25, released=1.0)
    # decided but not yet visible: the money is counted, readers see no gap
    second = MongoStore(client=client)  # another process, same database
    await second.open()
    got = await second.get_session(session.id)
    assert (got.total_cost, got.reserved_cost) == (0.25, 0.0)
    assert _seqs(await second.list_events(session.id)) == [1]
    await asyncio.sleep(0.1)  # the first process's lease expires
    assert await second.claim(o.id, "process-2", 30)  # taking over rolls the step forward
    resumed = await second.get_orchestration(o.id)
    assert resumed.status == "running" and resumed.iterations[0].response == "paid"
    assert _seqs(await second.list_events(session.id)) == [1, 2, 3]
    assert (await second.model_stats("sim:alpha")).requests == 1
    assert client.get_database("orchestratex").raw("commits").count_documents({}) == 0
    assert _seqs(list(await second.commit(resumed, [_selected(resumed, 4)], spent=0.5))) == [4]
    assert (await second.get_session(session.id)).total_cost == 0.75
    assert (await second.reserve_budget(session.id, o.id, 4.25)) and not await second.reserve_budget(
        session.id, o.id, 1e-6
    )


async def test_readers_roll_forward_an_abandoned_commit(client: Any) -> None:
    async with MongoStore(client=client) as first:
        session, o = await _tree(first)
        client.faults.fail("events", "insert_many", Crash())
        with pytest.raises(Crash):
            await first.commit(o, [_selected(o, 1)])
        assert await first.list_events(session.id) == []  # not abandoned yet (recover_after_s = 60)
    async with MongoStore(client=client, recover_after_s=1e-6) as reader:
        assert _seqs(await reader.list_events(session.id)) == [1]


async def test_rolling_forward_never_overwrites_a_newer_step(client: Any) -> None:
    store = MongoStore(client=client, recover_after_s=1e-6)
    await store.open()
    session, o = await _tree(store)
    o.final_response = "old"
    client.faults.fail("orchestrations", "update_one", Crash())
    with pytest.raises(Crash):
        await store.commit(o, [_selected(o, 1)])
    o.final_response = "new"
    await store.commit(o, [_selected(o, 2)])  # a newer step of the same orchestration
    assert _seqs(await store.list_events(session.id)) == [1, 2]  # the reader rolled the old step forward
    assert (await store.get_orchestration(o.id)).final_response == "new"


# -- several processes on one database ------------------------------------------------------------------


async def test_two_processes_share_budget_leases_and_counters(client: Any) -> None:
    async with MongoStore(client=client) as a, MongoStore(client=client) as b:
        session, o = await _tree(a, cost_limit=1.0)
        results = await asyncio.gather(*(s.reserve_budget(session.id, o.id, 0.01) for s in (a, b) * 100))
        assert results.count(True) == 100
        assert await a.claim(o.id, "a", 30) and not await b.claim(o.id, "b", 30)
        counts = await asyncio.gather(*(s.incr("rate:alice", ttl_s=60) for s in (a, b) * 25))
        assert sorted(counts) == list(range(1, 51))
        orchestrations = [
            o,
            *[await b.create_orchestration(o.model_copy(update={"id": ObjectId().__str__()})) for _ in range(3)],
        ]
        await asyncio.gather(*(s.commit(x, [_selected(x, 1)]) for x in orchestrations for s in (a, b)))
        assert _seqs(await a.list_events(session.id)) == list(range(1, 9))


@pytest.mark.parametrize("b_ends_it", [True, False])
async def test_a_lease_lost_then_taken_back_fails_the_commit_and_writes_nothing(client: Any, b_ends_it: bool) -> None:
    # a process paused past its lease (a stopped container): another took the run over and completed it (its lease
    # released) or left it (expired); the paused one's renewal took the lease back, and its next commit wrote the
    # run it had over the other's, which then completed twice, the other's spending no longer in its total_cost
    async with MongoStore(client=client) as a, MongoStore(client=client) as b:
        session, o = await _tree(a, cost_limit=1.0)
        assert await a.claim(o.id, "a", 0.05)
        o.status = "running"
        o.iterations.append(Iteration(index=1, model_name="m", prompt="p", response="mine"))
        await a.commit_step(o, [_selected(o, 1)], owner="a")
        await asyncio.sleep(0.06)  # a is paused past its lease
        assert await b.claim(o.id, "b", 0.05)
        theirs = await b.get_orchestration(o.id)
        theirs.iterations[0].response, theirs.total_cost = "theirs", 0.25
        if b_ends_it:
            theirs.status, theirs.final_response = "completed", "theirs"
        await b.commit_step(theirs, spent=0.25, owner="b", release_lease=b_ends_it)
        await asyncio.sleep(0.06)
        assert await a.renew_leases([o.id], "a", 30) == {o.id}  # free, or expired: taken back
        stored = await b.get_orchestration(o.id)
        o.iterations.append(Iteration(index=2, model_name="m", prompt="p"))
        o.total_cost = 0.5
        event = _selected(o, 2)
        with pytest.raises(Conflict, match="written by another process since 'a' last wrote it"):
            await a.commit_step(o, [event], owner="a", spent=0.5)
        assert event.seq == 0
        assert await b.get_orchestration(o.id) == stored
        assert (await b.get_session(session.id)).total_cost == 0.25
        assert _seqs(await b.list_events(session.id)) == [1]


async def test_a_run_claimed_again_after_another_process_wrote_it_commits_what_it_read(client: Any) -> None:
    # `claim` (a resumption, `drive`) is followed by a read of the run as stored: its commits are not refused for
    # what another process wrote before, even when this process drove the run once and never learnt it lost it
    async with MongoStore(client=client) as a, MongoStore(client=client) as b:
        session, o = await _tree(a, cost_limit=1.0)
        assert await a.claim(o.id, "a", 0.05)
        o.status = "running"
        o.iterations.append(Iteration(index=1, model_name="m", prompt="p"))
        await a.commit_step(o, [_selected(o, 1)], owner="a")
        await asyncio.sleep(0.06)
        assert await b.claim(o.id, "b", 0.05)
        theirs = await b.get_orchestration(o.id)
        theirs.iterations.append(Iteration(index=2, model_name="m", prompt="p"))
        await b.commit_step(theirs, [_selected(theirs, 2)], spent=0.25, owner="b")
        await asyncio.sleep(0.06)  # b died: its lease expired
        assert await a.claim(o.id, "a", 30)  # resumed by a
        mine = await a.get_orchestration(o.id)
        mine.iterations.append(Iteration(index=3, model_name="m", prompt="p"))
        await a.commit_step(mine, [_selected(mine, 3)], owner="a")
        assert len((await b.get_orchestration(o.id)).iterations) == 3
        assert _seqs(await b.list_events(session.id)) == [1, 2, 3]


# -- live events --------------------------------------------------------------------------------------


async def test_watch_events_replays_then_follows_by_polling(store: MongoStore) -> None:
    session, o = await _tree(store)
    await store.commit(o, [_selected(o, 1), _selected(o, 2)])
    seen: list[int] = []
    async with contextlib.aclosing(store.watch_events(session.id, since=1, poll_interval_s=0.01)) as events:

        async def later() -> None:
            await asyncio.sleep(0.05)
            await store.commit(o, [_selected(o, 3)])
            await store.commit(o, [_selected(o, 4), _selected(o, 5)])

        writer = asyncio.create_task(later())
        async for event in events:
            seen.append(event.seq)
            if event.seq == 5:
                break
        await writer
    assert seen == [2, 3, 4, 5]


async def test_watch_events_rejects_unknown_sessions_and_bad_arguments(store: MongoStore) -> None:
    with pytest.raises(NotFound):
        await anext(store.watch_events("0" * 24))
    with pytest.raises(ValueError):
        await anext(store.watch_events("0" * 24, poll_interval_s=0))


async def test_watch_events_names_since_and_checks_it_before_opening_a_change_stream(store: MongoStore) -> None:
    # A negative `since` was refused only by the first `list_events`, once a change stream was open (and, before
    # list_events was fixed, as "offset"); `batch=0` said nothing of the value given.
    session, _ = await _tree(store)
    opened: list[object] = []

    async def watch(*args: Any, **kwargs: Any) -> None:
        opened.append(args)

    store.change_streams = True
    store._c.events.watch = watch  # type: ignore[method-assign,assignment]
    with pytest.raises(UserError, match=r"^limit and since must be >= 0 \(got limit=1000, since=-1\)$"):
        await anext(store.watch_events(session.id, since=-1))
    with pytest.raises(UserError, match=r"^poll_interval_s must be > 0 and batch >= 1 \(got 0.25, 0\)$"):
        await anext(store.watch_events(session.id, batch=0))
    assert opened == []


async def test_list_resumable_rolls_forward_steps_of_unleased_orchestrations(client: Any) -> None:
    async with MongoStore(client=client) as store:
        session, o = await _tree(store)
        assert await store.claim(o.id, "dead", 0.05)
        o.status = "completed"  # the last step of the run
        client.faults.fail("events", "insert_many", Crash())
        with pytest.raises(Crash):
            await store.commit(o, [_selected(o, 1)])
        assert await store.list_resumable() == []  # leased: nothing to resume, nothing rolled forward yet
        assert (await store.get_orchestration(o.id)).status == "pending"
        await asyncio.sleep(0.1)
        assert await store.list_resumable() == []  # rolled forward: completed, so not resumable
        assert (await store.get_orchestration(o.id)).status == "completed"
        assert _seqs(await store.list_events(session.id)) == [1]


async def test_a_pending_mark_without_a_journal_entry_does_not_block_the_stream(client: Any) -> None:
    async with MongoStore(client=client, recover_after_s=1e-6) as store:
        session, o = await _tree(store)
        client.faults.fail("events", "insert_many", Crash())
        with pytest.raises(Crash):
            await store.commit(o, [_selected(o, 1)])
        client.get_database("orchestratex").raw("commits").delete_many({})  # its journal entry is gone
        await store.commit(o, [_selected(o, 2)])
        assert _seqs(await store.list_events(session.id)) == [2]  # seq 1 is lost, the stream goes on
        raw = client.get_database("orchestratex").raw("sessions").find_one({"_id": ObjectId(session.id)})
        assert raw is not None and raw["pending"] == {}


async def test_events_keyed_by_dotted_model_names_round_trip(store: MongoStore) -> None:
    session, o = await _tree(store)
    event = _selected(o, 1)
    event.scores = {"openai:gpt-4.1": 0.75, "anthropic:claude-3.5-haiku": 0.5}
    await store.commit(o, [event])
    (stored,) = await store.list_events(session.id)
    assert stored.model_dump() == event.model_dump()


class _FailingChangeStream:
    """A change stream that wakes its reader once, then fails (as one that cannot resume)."""

    def __init__(self) -> None:
        self.calls = 0
        self.closed = False

    async def try_next(self) -> dict[str, Any] | None:
        self.calls += 1
        await asyncio.sleep(0.01)
        if self.calls > 1:
            raise OperationFailure("change stream history lost", code=286)
        return None

    async def close(self) -> None:
        self.closed = True


async def test_watch_events_falls_back_to_polling_when_its_change_stream_fails(store: MongoStore) -> None:
    session, o = await _tree(store)
    stream = _FailingChangeStream()

    async def watch(*args: Any, **kwargs: Any) -> _FailingChangeStream:
        return stream

    store.change_streams = True
    store._c.events.watch = watch  # type: ignore[method-assign,assignment]  # the stand-in has no change streams
    seen: list[int] = []
    async with contextlib.aclosing(store.watch_events(session.id, poll_interval_s=0.01)) as events:
        writer = asyncio.create_task(store.commit(o, [_selected(o, 1)]))
        async for event in events:
            seen.append(event.seq)
            if len(seen) == 1:
                await writer
                await asyncio.sleep(0.05)  # the stream fails meanwhile
                await store.commit(o, [_selected(o, 2)])
            else:
                break
    assert seen == [1, 2] and stream.calls >= 2 and stream.closed


async def test_start_called_again_after_a_blip_keeps_what_its_first_attempt_wrote(
    store: MongoStore, client: Any
) -> None:
    session = await store.create_session(Session(user_id="alice"))
    thread = Thread(session_id=session.id, user_id="alice", original_prompt="p")
    o = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p")
    client.faults.fail("orchestrations", "insert_one", AutoReconnect("reply lost"), after=True)
    store._run.retries = 0  # the blip reaches the caller, which calls start again
    with pytest.raises(StoreUnavailable):
        await store.start(o, thread=thread, owner="me", ttl_s=60, events=[_selected(o, 1)])
    store._run.retries = 3
    started = await store.start(o, thread=thread, owner="me", ttl_s=60, events=[_selected(o, 1)])
    assert started.reserved and _seqs(await store.list_events(session.id)) == [1]
    assert not await store.claim(o.id, "other", 60)  # still "me"'s
    # what another owner started under these ids, or a thread made by another call, is still a Conflict
    with pytest.raises(Conflict, match="orchestration"):
        await store.start(o, owner="other", ttl_s=60)
    impostor = Thread(id=thread.id, session_id=session.id, user_id="alice", original_prompt="p")
    fresh = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p")
    with pytest.raises(Conflict, match="thread"):
        await store.start(fresh, thread=impostor, owner="me", ttl_s=60)


@pytest.mark.parametrize("collection", ["threads", "orchestrations"])
async def test_starts_inserts_are_retried_by_the_store_after_a_lost_reply(
    store: MongoStore, client: Any, collection: str
) -> None:
    session = await store.create_session(Session(user_id="alice"))
    thread = Thread(session_id=session.id, user_id="alice", original_prompt="p")
    o = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="p")
    client.faults.fail(collection, "insert_one", AutoReconnect("reply lost"), after=True)
    started = await store.start(o, thread=thread, owner="me", ttl_s=60, events=[_selected(o, 1)], reserve=0.1)
    assert started.reserved and started.session.reserved_cost == 0.1
    assert client.faults.calls[f"{collection}.insert_one"] == 2
    assert _seqs(await store.list_events(session.id)) == [1] and not await store.claim(o.id, "other", 60)


async def test_a_document_pymongo_cannot_encode_is_a_store_error(store: MongoStore, client: Any) -> None:
    session, o = await _tree(store)
    client.faults.fail("commits", "insert_one", InvalidDocument("key 'a\\x00b' must not contain null character"))
    with pytest.raises(StoreError, match="journaling a commit failed: key"):
        await store.commit(o, [_selected(o, 1)])
    assert await store.list_events(session.id) == []


async def test_transactions_on_a_standalone_server_are_refused_at_open(client: Any) -> None:
    # A standalone server refuses every multi-document transaction: with transactions=True each commit failed
    # at run time (the stand-in has no sessions; a real server answers "Transaction numbers are only allowed
    # on a replica set member or mongos"). `open()` now says so at once.
    store = MongoStore(client=client, transactions=True)
    with pytest.raises(ConfigurationError, match=r"transactions=True needs a replica set.*standalone server"):
        await store.open()
    with pytest.raises(StoreError, match="is not open"):
        await store.get_session("0" * 24)
    client.admin.hello["setName"] = "rs0"  # a replica set member: accepted
    async with MongoStore(client=client, transactions=True) as replicated:
        assert replicated.transactions is True


async def test_opening_a_change_stream_retries_network_errors_and_polls_when_refused(
    store: MongoStore, client: Any
) -> None:
    # A network error while opening the change stream escaped `watch_events` as a raw pymongo AutoReconnect.
    session, o = await _tree(store)
    await store.commit(o, [_selected(o, 1)])
    errors: list[BaseException] = [AutoReconnect("connection reset")] * 4

    async def watch(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0)
        raise errors.pop(0)

    store.change_streams = True
    store._c.events.watch = watch  # type: ignore[method-assign]  # the stand-in has no change streams
    with pytest.raises(StoreUnavailable, match=r"opening a change stream failed after 4 attempts"):
        async with contextlib.aclosing(store.watch_events(session.id, poll_interval_s=0.01)) as events:
            await anext(events)
    # a blip, then a refusal (no changeStream privilege): it polls, and says so once
    errors[:] = [AutoReconnect("connection reset"), OperationFailure("not authorized on orchestratex", code=13)]
    async with contextlib.aclosing(store.watch_events(session.id, poll_interval_s=0.01)) as events:
        first = await anext(events)
        writer = asyncio.create_task(store.commit(o, [_selected(o, 2)]))
        second = await anext(events)
        await writer
    assert (first.seq, second.seq) == (1, 2) and store.change_streams is False


def test_database_names_mongodb_refuses_are_configuration_errors() -> None:
    # They were taken as given, and PyMongo raised a raw InvalidName once connected ('db.collection', as
    # PyMongo's own URL convention has it, named a database 'db.collection').
    with pytest.raises(ConfigurationError, match=r"database name 'app\.runs' \(the URL's path.*cannot contain '\.'"):
        MongoStore("mongodb://u:pw@h/app.runs")
    for bad in ("my db", "a$b", "a/b", "x" * 64, ""):
        with pytest.raises(ConfigurationError, match="invalid MongoDB database name"):
            MongoStore("mongodb://h/ok", database=bad)
    assert MongoStore("mongodb://h/app.runs", database="app").database == "app"  # the argument overrides the path
    assert MongoStore("mongodb://h/%C3%A9t%C3%A9?replicaSet=rs0").database == "été"
    out = subprocess.run(
        [sys.executable, "-m", "orchestratex", "runs", "list", "--store", "mongodb://127.0.0.1:9/app.runs"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and out.stderr.strip().endswith("it cannot contain '.'"), out.stderr


async def test_a_server_older_than_5_0_is_refused_at_open(client: Any) -> None:
    client.admin.hello["maxWireVersion"] = 9  # MongoDB 4.4
    with pytest.raises(ConfigurationError, match=r"older than 5\.0 \(wire version 9\).*MongoDB 5\.0 or newer"):
        await MongoStore(client=client).open()


async def test_wrong_credentials_are_a_configuration_error_not_an_unreachable_server(client: Any) -> None:
    # PyMongo raises OperationFailure (code 18) for a wrong password: it was reported as StoreUnavailable,
    # "cannot reach MongoDB", the error for a server that may come back (503, retried).
    failure = OperationFailure("Authentication failed.", code=18)
    client.faults.fail("admin", "ping", failure)
    with pytest.raises(ConfigurationError, match=r"refused the credentials.*check the user, the password"):
        await MongoStore(client=client).open()
    client.faults.fail("admin", "ping", OperationFailure("not authorized on admin", code=13))
    with pytest.raises(StoreError, match="refused the connection: not authorized") as refused:
        await MongoStore(client=client).open()
    assert not isinstance(refused.value, StoreUnavailable)


async def test_a_run_this_version_cannot_read_is_named_and_the_listings_go_on(store: MongoStore, client: Any) -> None:
    # a newer version's status (or a hand edit) made `get_orchestration` raise pydantic's bare ValidationError and
    # every listing that included the run fail with it
    session, first = await _tree(store)
    later = [first.created_at + timedelta(seconds=s) for s in (1, 2)]
    odd = first.model_copy(update={"id": str(ObjectId()), "prompt": "odd one", "created_at": later[0]})
    last = first.model_copy(update={"id": str(ObjectId()), "created_at": later[1]})
    await store.create_orchestration(odd)
    await store.create_orchestration(last)
    client.get_database("orchestratex").raw("orchestrations").update_one(
        {"_id": ObjectId(odd.id)}, {"$set": {"status": "paused"}}
    )
    with pytest.raises(StoreError, match=rf"^orchestration {odd.id} is stored in a form this version .* 'paused'\)$"):
        await store.get_orchestration(odd.id)
    listed = await store.list_orchestrations(session_id=session.id)
    assert [o.id for o in listed] == [first.id, odd.id, last.id]
    assert (listed[1].status, listed[1].prompt) == ("failed", "odd one")
    assert listed[1].error is not None and "cannot read" in listed[1].error


async def test_an_event_this_version_cannot_read_is_left_out(store: MongoStore, client: Any) -> None:
    # a newer version's event type made `list_events` (and `watch_events`, the WebSocket's replay) raise pydantic's
    # bare ValidationError for the whole session
    session, o = await _tree(store)
    await store.commit(o, [_selected(o, 1), _selected(o, 2), _selected(o, 3)])
    client.get_database("orchestratex").raw("events").update_one(
        {"session_id": session.id, "seq": 2}, {"$set": {"type": "tool_called"}}
    )
    assert [e.seq for e in await store.list_events(session.id)] == [1, 3]
    # (`limit` counts the events listed: a page cut short by one left out was taken for the end of the stream by a
    # caller paging by `since`)
    assert [e.seq for e in await store.list_events(session.id, since=1, limit=1)] == [3]
    assert [e.seq for e in await store.list_events(session.id, limit=2)] == [1, 3]
