"""SQLiteStore's orchestration layout (schema version 2): a step's commit appends its iteration and updates small
columns, the document reads back whole and identical, and a version-1 database is migrated on open."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orchestratex import FunctionProvider, Generation, GenerationRequest, Message, Orchestrator, SQLiteStore
from orchestratex.events import ModelSelected
from orchestratex.exceptions import Conflict, StoreError
from orchestratex.records import Evaluation, Iteration, Orchestration, Session, SessionSettings, Thread
from orchestratex.routing import BayesianRouter
from orchestratex.stores.sqlite._orchestrations import WrittenCache, split

from ..helpers import NO_WAIT, answer_attempt, attempt_number, catalog, score_of_answer, scripted
from ..ledger import ledger_problems
from .sqlite_v1 import V1_DDL


def _orchestrator(store: SQLiteStore, provider: FunctionProvider, **kwargs: Any) -> Orchestrator:
    return Orchestrator(
        providers=[provider],
        catalog=catalog("a", "b", "c"),
        store=store,
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        judges=["function:b", "function:c"],
        **kwargs,
    )


async def test_a_judged_run_of_three_iterations_reads_back_identical(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    async with _orchestrator(SQLiteStore(path), scripted(answer_attempt, score_of_answer({1: 4.0, 2: 6.0}))) as orch:
        session = await orch.create_session("alice")
        result = await orch.run("Hello", session=session, max_iterations=3, evaluation_threshold=9, patience=5)
        doc = result.orchestration
        assert len(doc.iterations) == 3 and all(it.evaluation is not None for it in doc.iterations)
        store = orch.store
        assert await store.get_orchestration(doc.id) == doc
        assert await store.list_orchestrations(session_id=session.id) == [doc]
    async with SQLiteStore(path) as fresh:  # another process: nothing remembered, all read from the file
        assert await fresh.get_orchestration(doc.id) == doc
        assert await fresh.list_orchestrations(thread_id=doc.thread_id) == [doc]
        conn = sqlite3.connect(path)
        assert conn.execute("SELECT idx FROM steps WHERE orchestration_id = ? ORDER BY idx", (doc.id,)).fetchall() == [
            (0,),
            (1,),
            (2,),
        ]
        conn.close()


async def _tree(store: SQLiteStore, n: int = 1, limit: float | None = None) -> tuple[Session, list[Orchestration]]:
    session = await store.create_session(Session(user_id="u", settings=SessionSettings(cost_limit=limit)))
    thread = await store.create_thread(Thread(session_id=session.id, user_id="u", original_prompt="p"))
    runs = [
        await store.create_orchestration(
            Orchestration(thread_id=thread.id, session_id=session.id, user_id="u", prompt="p", messages=[])
        )
        for _ in range(n)
    ]
    return session, runs


def _iteration(index: int, response: str | None = None, score: float | None = None) -> Iteration:
    evaluation = None if score is None else Evaluation(score=score, feedback="f", judge_models=["j"])
    phase = "evaluated" if score is not None else "generated" if response is not None else "selected"
    return Iteration(index=index, model_name="m", prompt="p", phase=phase, response=response, evaluation=evaluation)


def _selected(o: Orchestration, index: int) -> ModelSelected:
    return ModelSelected(
        orchestration_id=o.id, thread_id=o.thread_id, session_id=o.session_id, model_name="m", reasoning="r",
        iteration=index,
    )  # fmt: skip


async def test_documents_written_from_their_utf8_are_stored_as_text(tmp_path: Path) -> None:
    """The documents are bound as the UTF-8 their serializers write and cast to text by SQLite (not decoded to a str
    that `sqlite3` encodes again): each is stored as TEXT, not as a BLOB, with the characters of a prompt that is not
    ASCII, and reads back identical, from this process and from another."""
    path = tmp_path / "x.db"
    prompt = "Résumez — en français 🇫🇷, 请用中文 — ce texte: " + "é" * 3000
    async with _orchestrator(SQLiteStore(path), scripted(answer_attempt, score_of_answer({1: 4.0}))) as orch:
        session = await orch.create_session("alice")
        result = await orch.run(prompt, session=session, max_iterations=2, evaluation_threshold=9, patience=5)
        doc = result.orchestration
        assert len(doc.iterations) == 2
        assert await orch.store.get_orchestration(doc.id) == doc
    conn = sqlite3.connect(path)
    try:
        for table, column in [
            ("orchestrations", "doc"),
            ("orchestrations", "state"),
            ("steps", "doc"),
            ("events", "doc"),
            ("threads", "doc"),
        ]:
            kinds = conn.execute(f"SELECT DISTINCT typeof({column}) FROM {table}").fetchall()
            assert kinds == [("text",)], (table, column, kinds)
        assert conn.execute("SELECT json_extract(doc, '$.prompt') FROM orchestrations").fetchall() == [(prompt,)]
        assert conn.execute("SELECT json_extract(doc, '$.prompt') FROM steps ORDER BY idx LIMIT 1").fetchall() == [
            (prompt,)
        ]
        assert conn.execute("SELECT json_extract(doc, '$.original_prompt') FROM threads").fetchall() == [(prompt,)]
    finally:
        conn.close()
    async with SQLiteStore(path) as fresh:
        assert await fresh.get_orchestration(doc.id) == doc
        started = (await fresh.list_events(doc.session_id))[0]
        assert started.type == "orchestration_started" and started.orchestration_id == doc.id


async def test_a_step_commit_appends_its_iteration_and_leaves_the_head_alone(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "x.db") as store:
        session, (o,) = await _tree(store, limit=1.0)
        o.status = "running"
        o.iterations.append(_iteration(1, "first", 5.0))
        await store.commit_step(o, [_selected(o, 1)], owner=None, reserve=0.1)
        sql: list[str] = []
        store._writer_conn().set_trace_callback(sql.append)
        o.iterations.append(_iteration(2, "second"))
        o.total_cost = 0.05
        assert await store.commit_step(o, [_selected(o, 2)], spent=0.05, released=0.1, reserve=0.2)
        store._writer_conn().set_trace_callback(None)
        writes = [s for s in sql if not s.startswith(("BEGIN", "COMMIT"))]
        assert not [s for s in sql if "SAVEPOINT" in s]  # alone in its transaction
        (update,) = [s for s in writes if s.startswith("UPDATE orchestrations")]
        assert " doc = " not in update and "state = " in update and "iterations = " in update
        (step,) = [s for s in writes if "INTO steps" in s]  # only the new iteration, not the first again
        assert f"VALUES ('{o.id}', 1, " in step
        assert [" ".join(s.split()[:3]).removesuffix(" SET").removesuffix(" VALUES") for s in writes] == [
            "UPDATE orchestrations",  # small columns only, the lease checked in its WHERE
            "INSERT INTO steps",
            "SELECT amount_pico FROM",  # the reservation, of which the step releases some
            "UPDATE sessions",  # spend, release, seq numbers and the next reservation, in one
            "INSERT INTO reservations",
            "INSERT INTO events",
        ]
        got = await store.get_session(session.id)
        assert (got.total_cost, got.reserved_cost) == (0.05, 0.2)
        assert await store.get_orchestration(o.id) == o


async def test_a_head_field_changed_since_the_last_commit_is_written(tmp_path: Path) -> None:
    """A commit reuses the head it wrote last only while none of its fields changed: a field set anew (the prompt, the
    creation time), or changed in place (a message appended, a setting), is written by the next commit."""
    path = tmp_path / "x.db"
    async with SQLiteStore(path) as store:
        _, (o,) = await _tree(store)
        o.status = "running"
        o.iterations.append(_iteration(1, "first"))
        await store.commit(o)
        sql: list[str] = []
        store._writer_conn().set_trace_callback(sql.append)
        await store.commit(o)  # nothing of the head changed
        assert not [s for s in sql if s.startswith("UPDATE orchestrations") and " doc = " in s]
        changes: list[Callable[[], object]] = [
            lambda: setattr(o, "prompt", "q"),
            lambda: o.messages.append(Message(role="user", content="more")),
            lambda: o.messages.__setitem__(0, Message(role="user", content="replaced in place")),
            lambda: setattr(o.settings, "max_iterations", 7),
            lambda: o.settings.__setattr__("preferred_models", ["m"]),
            lambda: o.settings.preferred_models.append("n"),  # type: ignore[union-attr]
            lambda: setattr(o, "context", "some context"),
            lambda: setattr(o, "created_at", o.created_at.replace(microsecond=(o.created_at.microsecond + 1) % 10**6)),
        ]
        for change in changes:
            change()
            sql.clear()
            await store.commit(o)
            assert [s for s in sql if s.startswith("UPDATE orchestrations") and " doc = " in s]
            assert await store.get_orchestration(o.id) == o
        store._writer_conn().set_trace_callback(None)
    async with SQLiteStore(path) as fresh:  # read from the file
        assert await fresh.get_orchestration(o.id) == o


async def test_a_row_another_connection_moved_on_is_written_whole(tmp_path: Path) -> None:
    """What this store remembers of a run is used only while the row is at the revision it wrote: after another
    process's commit, the next one rewrites the row and every step (dropping steps the document no longer has)."""
    path = tmp_path / "x.db"
    async with SQLiteStore(path) as first, SQLiteStore(path) as second:
        _, (o,) = await _tree(first)
        o.iterations = [_iteration(1, "a", 3.0), _iteration(2, "b", 4.0), _iteration(3, "c")]
        await first.commit(o)
        theirs = await second.get_orchestration(o.id)
        theirs.iterations[2].response = "changed elsewhere"
        theirs.final_response = "elsewhere"
        await second.commit(theirs)
        mine = o.model_copy(deep=True)
        mine.iterations = mine.iterations[:2]  # the document lost a step: the store must drop it
        mine.iterations[0].response = "rewritten"
        await first.commit(mine)
        assert await second.get_orchestration(o.id) == mine
        assert await first.get_orchestration(o.id) == mine
        theirs.iterations.append(_iteration(4, "d"))
        await second.commit(theirs)  # `second` is behind too: it writes the whole document
        assert await first.get_orchestration(o.id) == theirs


async def test_a_lost_lease_fails_the_commit_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    async with SQLiteStore(path) as first, SQLiteStore(path) as second:
        session, (o,) = await _tree(first, limit=1.0)
        assert await first.claim(o.id, "first", 0.05)
        o.iterations.append(_iteration(1, "a"))
        await first.commit_step(o, [_selected(o, 1)], owner="first")
        await asyncio.sleep(0.06)
        assert await second.claim(o.id, "second", 30)  # the lease ran out: another process took the run over
        o.iterations.append(_iteration(2, "b"))
        before = await first.get_orchestration(o.id)
        event = _selected(o, 2)
        with pytest.raises(Conflict):
            await first.commit_step(o, [event], owner="first", spent=0.1)
        assert event.seq == 0
        assert await second.get_orchestration(o.id) == before
        assert (await second.get_session(session.id)).total_cost == 0.0


@pytest.mark.parametrize("second_ends_it", [True, False])
async def test_a_lease_lost_then_taken_back_fails_the_commit_and_writes_nothing(
    tmp_path: Path, second_ends_it: bool
) -> None:
    """A process paused past its lease (a stopped container) whose run another process took over, then completed
    (its lease released) or left (its lease expired): the paused one's lease renewal takes the lease back, and its
    next commit wrote the state it had over the other's, completing the run again with the other's spending no
    longer in its `total_cost`. The row moved on since it last wrote it: the commit is refused."""
    path = tmp_path / "x.db"
    async with SQLiteStore(path) as first, SQLiteStore(path) as second:
        session, (o,) = await _tree(first, limit=1.0)
        assert await first.claim(o.id, "first", 0.05)
        o.status = "running"
        o.iterations.append(_iteration(1, "a"))
        await first.commit_step(o, [_selected(o, 1)], owner="first")
        await asyncio.sleep(0.06)  # first is paused past its lease
        assert await second.claim(o.id, "second", 0.05)
        theirs = await second.get_orchestration(o.id)
        theirs.iterations[0] = _iteration(1, "a", 9.5)
        theirs.total_cost = 0.25
        if second_ends_it:
            theirs.status, theirs.final_response = "completed", "a"
        await second.commit_step(theirs, spent=0.25, owner="second", release_lease=second_ends_it)
        await asyncio.sleep(0.06)
        assert await first.renew_leases([o.id], "first", 30) == {o.id}  # free, or expired: taken back
        stored = await second.get_orchestration(o.id)
        o.iterations[0] = _iteration(1, "a", 3.0)
        o.iterations.append(_iteration(2, "b"))
        o.total_cost = 0.5
        event = _selected(o, 2)
        with pytest.raises(Conflict, match="written by another process since 'first' last wrote it"):
            await first.commit_step(o, [event], owner="first", spent=0.5)
        assert event.seq == 0
        assert await second.get_orchestration(o.id) == stored
        assert (await second.get_session(session.id)).total_cost == 0.25
        assert len(await second.list_events(session.id)) == 1


async def test_a_run_claimed_again_after_another_process_wrote_it_commits_what_it_read(tmp_path: Path) -> None:
    """`claim` (a resumption, `drive`) is followed by a read of the run as stored: its commits are not refused for
    what another process wrote before, even when this process drove the run once and never learnt it lost it."""
    path = tmp_path / "x.db"
    async with SQLiteStore(path) as first, SQLiteStore(path) as second:
        session, (o,) = await _tree(first, limit=1.0)
        assert await first.claim(o.id, "first", 0.05)
        o.status = "running"
        o.iterations.append(_iteration(1, "a"))
        await first.commit_step(o, [_selected(o, 1)], owner="first")
        await asyncio.sleep(0.06)
        assert await second.claim(o.id, "second", 0.05)
        theirs = await second.get_orchestration(o.id)
        theirs.iterations.append(_iteration(2, "b"))
        await second.commit_step(theirs, [_selected(theirs, 2)], spent=0.25, owner="second")
        await asyncio.sleep(0.06)  # second died: its lease expired
        assert await first.claim(o.id, "first", 30)  # resumed by the first process
        mine = await first.get_orchestration(o.id)
        mine.iterations.append(_iteration(3, "c"))
        await first.commit_step(mine, [_selected(mine, 3)], owner="first")
        assert await second.get_orchestration(o.id) == mine
        assert [e.seq for e in await second.list_events(session.id)] == [1, 2, 3]


class _RecordedThenFails(SQLiteStore):
    """Commit number `fail_at` is written, then reported failed (the outcome unknown to the run): the run stops
    and stays resumable from what the store holds."""

    def __init__(self, path: Path, fail_at: int) -> None:
        super().__init__(path)
        self.fail_at, self.commits = fail_at, 0

    async def commit_step(self, *args: Any, **kwargs: Any) -> bool:
        granted = await super().commit_step(*args, **kwargs)
        self.commits += 1
        if self.commits == self.fail_at:
            raise StoreError("recorded, then failed")
        return granted


_V1_COLUMNS = "id, session_id, thread_id, user_id, status, domain, final_score, total_pico, iterations, created_at"


async def _to_version_1(source: Path, target: Path, overage: str) -> None:
    """Copy the database `source` (version 2) into a new file `target` in the layout of version 1, every document
    whole; the orchestration `overage` is given an overage (kept only in the document, in version 1)."""
    async with SQLiteStore(source) as store:
        docs = {o.id: o for o in await store.list_orchestrations(limit=1000)}
    docs[overage].overage_cost = 0.25
    conn = sqlite3.connect(target, isolation_level=None)
    conn.executescript(V1_DDL)
    conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.execute("ATTACH DATABASE ? AS v2", (str(source),))
    conn.execute(
        "INSERT INTO sessions SELECT id, user_id, status, created_at, total_pico, reserved_pico, limit_pico,"
        " event_seq, doc FROM v2.sessions"
    )
    for table in ("threads", "calls", "events", "reservations", "cancel_requests", "counters", "routing_stats"):
        conn.execute(f"INSERT INTO {table} SELECT * FROM v2.{table}")  # (calls: the trigger sums them again)
    conn.execute(
        f"INSERT INTO orchestrations ({_V1_COLUMNS}, updated_at, lease_owner, lease_expires, doc)"
        f" SELECT {_V1_COLUMNS}, updated_at, lease_owner, lease_expires, '{{}}' FROM v2.orchestrations"
    )
    for oid, doc in docs.items():
        conn.execute("UPDATE orchestrations SET doc = ? WHERE id = ?", (doc.model_dump_json(), oid))
    conn.execute("DETACH DATABASE v2")
    conn.close()


@pytest.mark.parametrize("fail_at", [2, 3])
async def test_a_version_1_database_is_migrated_and_its_run_resumed(tmp_path: Path, fail_at: int) -> None:
    source, path = tmp_path / "v2.db", tmp_path / "v1.db"
    attempts: list[int] = []
    base = scripted(answer_attempt, score_of_answer({1: 5.0, 2: 9.0}))

    async def fn(request: GenerationRequest) -> Generation:
        if request.purpose == "generate":
            attempts.append(attempt_number(request))
        return await base.generate(request)

    store = _RecordedThenFails(source, 0)
    async with _orchestrator(store, FunctionProvider(fn), lease_ttl_s=0.05) as orch:
        session = await orch.create_session("alice", cost_limit=1.0)
        done = await orch.run("First", session=session, max_iterations=2, evaluation_threshold=8)
        store.commits, store.fail_at = 0, fail_at
        doc = await orch.prepare("Hello", session=session, max_iterations=3, evaluation_threshold=8)
        with pytest.raises(StoreError, match="recorded"):
            await orch.drive(doc)
        held = await store.get_orchestration(doc.id)
        assert held.status == "running"
        analytics = await store.session_analytics(session.id)
        events = await store.list_events(session.id)
    await _to_version_1(source, path, overage=done.id)
    generated = len(attempts)
    await asyncio.sleep(0.06)  # the lease runs out

    migrated = SQLiteStore(path)
    async with _orchestrator(migrated, FunctionProvider(fn), lease_ttl_s=5) as orch:
        conn = sqlite3.connect(path)
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
        conn.close()
        assert await migrated.get_orchestration(doc.id) == held
        [old] = await migrated.list_orchestrations(thread_id=done.orchestration.thread_id)
        assert old.overage_cost == 0.25 and old.iterations == done.orchestration.iterations
        after = await migrated.session_analytics(session.id)
        assert after.model_copy(update={"overage_cost": 0.0}) == analytics.model_copy(update={"overage_cost": 0.0})
        assert after.overage_cost == 0.25
        assert await migrated.list_events(session.id) == events
        [resumed] = await orch.resume_pending()
        assert resumed.status == "completed" and resumed.id == doc.id
        earlier, again = attempts[2:generated], attempts[generated:]
        assert again and not set(again) & set(earlier)  # no paid call of the interrupted run is repeated
        assert await ledger_problems(migrated, session.id) == []
        assert await migrated.get_orchestration(doc.id) == resumed.orchestration
        for o in await migrated.list_orchestrations(session_id=session.id):
            if o.id == done.id:  # (its overage is the test's own: not in the session's costs)
                continue
            assert o.overage_cost == 0.0
    async with SQLiteStore(path) as reopened:  # already version 2: nothing migrated twice
        assert await reopened.get_orchestration(doc.id) == resumed.orchestration


async def test_processes_opening_a_version_1_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(V1_DDL)
    conn.execute("INSERT INTO schema_version VALUES (1)")
    o = Orchestration(thread_id="t", session_id="s", user_id="u", prompt="p", iterations=[_iteration(1, "a", 7.0)])
    conn.execute(
        "INSERT INTO orchestrations (id, session_id, thread_id, user_id, status, domain, final_score, total_pico,"
        " iterations, created_at, updated_at, doc) VALUES (?, 's', 't', 'u', 'completed', 'general', 7.0, 0, 1, 0, 0,"
        " ?)",
        (o.id, o.model_dump_json()),
    )
    conn.close()
    stores = [SQLiteStore(path) for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        for s in stores:
            assert await s.get_orchestration(o.id) == o
    finally:
        for s in stores:
            await s.close()
    old = sqlite3.connect(path, isolation_level=None)  # a process of version 1 still running: refused
    with pytest.raises(sqlite3.IntegrityError, match="upgrade"):
        old.execute("UPDATE orchestrations SET doc = ? WHERE id = ?", (o.model_dump_json(), o.id))
    old.close()


async def test_a_process_opening_a_file_another_is_migrating_waits_for_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the migration holds the write lock for as long as it takes (about 3 s per 10,000 runs): another process
    # opening the file meanwhile (a server's other workers, `orchestratex runs list`) failed after its busy timeout
    # with "StoreUnavailable: cannot open SQLite database ...: database is locked"
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")  # (as version 1 made it)
    conn.executescript(V1_DDL)
    conn.execute("INSERT INTO schema_version VALUES (1)")
    o = Orchestration(thread_id="t", session_id="s", user_id="u", prompt="p", iterations=[_iteration(1, "a", 7.0)])
    conn.execute(
        "INSERT INTO orchestrations (id, session_id, thread_id, user_id, status, domain, final_score, total_pico,"
        " iterations, created_at, updated_at, doc) VALUES (?, 's', 't', 'u', 'completed', 'general', 7.0, 0, 1, 0, 0,"
        " ?)",
        (o.id, o.model_dump_json()),
    )
    conn.execute("BEGIN IMMEDIATE")  # as the process migrating it holds it
    store = SQLiteStore(path, busy_timeout=0.05)
    opening = asyncio.create_task(store.open())
    await asyncio.sleep(0.5)  # ten times its busy timeout
    assert not opening.done()
    conn.execute("ROLLBACK")  # (that migration failed: this process migrates the file itself)
    await opening
    try:
        assert await store.get_orchestration(o.id) == o
    finally:
        await store.close()
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
    conn.close()
    assert f"SQLite database {path} is at an older schema version: migrating it to version 2" in caplog.text


async def test_a_retry_budget_grant_is_not_counted_twice(tmp_path: Path) -> None:
    """A step's reservation for the next call rides on its commit: granted only when it fits the budget with
    the step's spend and release applied, and then held once."""
    async with SQLiteStore(tmp_path / "x.db") as store:
        session, (o,) = await _tree(store, limit=1.0)
        assert await store.commit_step(o, reserve=0.6)
        assert not await store.commit_step(o, spent=0.3, released=0.1, reserve=0.3)  # 0.3 + 0.5 + 0.3 > 1
        got = await store.get_session(session.id)
        assert (got.total_cost, got.reserved_cost) == (0.3, 0.5)
        assert await store.commit_step(o, released=0.5, reserve=0.7)  # 0.3 + 0 + 0.7 <= 1
        assert await store.release_reservations(session.id, o.id) == 0.7
        o.status = "completed"
        assert await store.commit_step(o)
        assert (await store.get_session(session.id)).reserved_cost == 0.0


async def test_a_long_migration_logs_how_far_it_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a migration takes about 3 s per 10,000 runs (minutes for a large file), every process opening the file waiting
    # for it: it logged that it began, then nothing until it was done, so an operator could not tell a slow migration
    # from a hung one
    from orchestratex.stores.sqlite import _migrate

    monkeypatch.setattr(_migrate, "_BATCH", 2)
    monkeypatch.setattr(_migrate, "PROGRESS_EVERY", 2)
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(V1_DDL)
    conn.execute("INSERT INTO schema_version VALUES (1)")
    runs = [Orchestration(thread_id="t", session_id="s", user_id="u", prompt="p") for _ in range(5)]
    for o in runs:
        conn.execute(
            "INSERT INTO orchestrations (id, session_id, thread_id, user_id, status, domain, final_score, total_pico,"
            " iterations, created_at, updated_at, doc) VALUES (?, 's', 't', 'u', 'pending', 'general', NULL, 0, 0, 0,"
            " 0, ?)",
            (o.id, o.model_dump_json()),
        )
    conn.close()
    caplog.set_level("WARNING", logger="orchestratex.stores.sqlite")
    async with SQLiteStore(path) as store:
        assert [o.id for o in await store.list_orchestrations()] == [o.id for o in runs]
    lines = [r.getMessage().split(": ", 1)[1] for r in caplog.records if "orchestrations" in r.getMessage()]
    assert [line.rsplit(" (", 1)[0] for line in lines[:2]] == [
        "migrating to version 2, 2 of 5 orchestrations done",
        "migrating to version 2, 4 of 5 orchestrations done",
    ]
    assert lines[2].startswith("5 orchestrations migrated to version 2 in ") and len(lines) == 3


async def test_a_migration_that_fails_leaves_the_file_at_version_1(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(V1_DDL)
    conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.execute(
        "INSERT INTO orchestrations (id, session_id, thread_id, user_id, status, domain, final_score, total_pico,"
        """ iterations, created_at, updated_at, doc) VALUES ('o', 's', 't', 'u', 'running', 'general', NULL, 0, 0, 0,"""
        """ 0, '["not", "a", "document"]')"""  # (a JSON array: a document of version 1 that cannot be one)
    )
    with pytest.raises(StoreError, match="cannot migrate"):
        await SQLiteStore(path).open()
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
    assert [c for (_, c, *_) in conn.execute("PRAGMA table_info(orchestrations)")][-1] == "doc"  # no column added
    conn.close()


async def test_a_version_1_run_this_version_cannot_read_does_not_keep_the_database_from_opening(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A version-1 database upgraded with one run written by a provider's NaN latency (stored as `null` before such
    # latencies were refused): its migration stopped at that document, and the store, every command and the server
    # failed to open with "cannot migrate the orchestration at rowid 2 to schema version 2". That run is migrated as
    # it is stored (reading it fails, saying why) and the others are read as before.
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(V1_DDL)
    conn.execute("INSERT INTO schema_version VALUES (1)")
    good = Orchestration(thread_id="t", session_id="s", user_id="u", prompt="p", iterations=[_iteration(1, "a", 7.0)])
    bad = Orchestration(thread_id="t", session_id="s", user_id="u", prompt="q", iterations=[_iteration(1, "b")])
    bad.overage_cost = 0.5
    broken = bad.model_dump_json().replace('"latency_ms":0.0', '"latency_ms":null')
    for o, doc in ((good, good.model_dump_json()), (bad, broken)):
        conn.execute(
            f"INSERT INTO orchestrations ({_V1_COLUMNS}, updated_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, 0, 0, ?)",
            (o.id, o.session_id, o.thread_id, o.user_id, o.status, "general", o.final_score, len(o.iterations), doc),
        )
    conn.close()
    with caplog.at_level("WARNING", logger="orchestratex.stores.sqlite"):
        async with SQLiteStore(path) as store:
            assert await store.get_orchestration(good.id) == good
            with pytest.raises(
                StoreError, match=rf"orchestration {bad.id} .* cannot read .*: iterations\[0\]\.latency_ms"
            ):
                await store.get_orchestration(bad.id)  # (as in version 1, then with pydantic's bare ValidationError)
            assert [o.status for o in await store.list_orchestrations()] == ["pending", "failed"]
            assert (await store.user_analytics("u")).overage_cost == 0.5
    assert any(bad.id in r.getMessage() and "latency_ms" in r.getMessage() for r in caplog.records)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
    assert conn.execute("SELECT COUNT(*) FROM steps WHERE orchestration_id = ?", (bad.id,)).fetchone() == (1,)
    conn.close()


async def test_runs_in_flight_past_the_cache_size_still_write_only_their_changes(tmp_path: Path) -> None:
    """What the store remembers of a run it holds the lease of is kept for as long as it holds it, however many
    runs are in flight: none of their commits falls back to rewriting the whole row (no `SELECT rev, ...`)."""
    async with SQLiteStore(tmp_path / "x.db") as store:
        store._written = WrittenCache(size=2)
        session, _ = await _tree(store, n=0)
        thread = await store.create_thread(Thread(session_id=session.id, user_id="u", original_prompt="p"))
        runs = [
            Orchestration(thread_id=thread.id, session_id=session.id, user_id="u", prompt="p", messages=[])
            for _ in range(5)
        ]
        for o in runs:
            o.status = "running"
            o.iterations.append(_iteration(1))
            await store.start(o, owner="me", ttl_s=30)
        sql: list[str] = []
        store._writer_conn().set_trace_callback(sql.append)
        for o in runs:
            o.iterations[0].response = "answer"
            await store.commit_step(o, [_selected(o, 1)], owner="me")
        store._writer_conn().set_trace_callback(None)
        assert not [s for s in sql if s.startswith("SELECT rev")]
        assert len(store._written) == 5
        for o in runs[:4]:
            await store.release(o.id, "me")  # no longer held: only the bounded cache keeps it
        assert len(store._written) == 3
        runs[4].status = "completed"
        await store.commit_step(runs[4], owner="me", release_lease=True)
        assert len(store._written) == 2
        for o in runs:
            assert await store.get_orchestration(o.id) == o


def test_the_written_cache_bounds_runs_not_leased_and_leased_ones_by_their_own_size() -> None:
    cache = WrittenCache(size=2, leased_size=3)
    o = Orchestration(thread_id="t", session_id="s", user_id="u", prompt="p", messages=[])
    for i in range(4):
        cache.put(f"free{i}", split(o), i)
        cache.put(f"held{i}", split(o), i, leased=True)
    assert [k for k in ("free0", "free1", "free2", "free3") if cache.get(k)] == ["free2", "free3"]
    assert [k for k in ("held0", "held1", "held2", "held3") if cache.get(k)] == ["held1", "held2", "held3"]
    cache.unpin("held3")
    assert cache.get("held3") is not None and cache.get("free2") is None  # moved to the bounded part
    o.status = "completed"
    cache.put("held2", split(o), 9, leased=True)  # a final commit forgets the run
    assert cache.get("held2") is None and len(cache) == 3
