"""SQLiteStore specifics: URLs, the file on disk, schema versions, atomicity, several connections and processes."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from orchestratex.events import ModelSelected
from orchestratex.exceptions import ConfigurationError, StoreError, StoreUnavailable
from orchestratex.records import ApiKey, Orchestration, Session, SessionSettings, Thread
from orchestratex.stores import SQLiteStore, open_store, store_from_url

from ..cli.conftest import run_cli
from ..orchestrator.faults import LockHolder


def _event(o: Orchestration) -> ModelSelected:
    return ModelSelected(
        orchestration_id=o.id,
        thread_id=o.thread_id,
        session_id=o.session_id,
        model_name="m",
        reasoning="r",
        iteration=1,
    )


async def _tree(store: SQLiteStore, cost_limit: float | None = None) -> tuple[Session, Thread, Orchestration]:
    session = await store.create_session(Session(user_id="u", settings=SessionSettings(cost_limit=cost_limit)))
    thread = await store.create_thread(Thread(session_id=session.id, user_id="u", original_prompt="p"))
    o = await store.create_orchestration(
        Orchestration(thread_id=thread.id, session_id=session.id, user_id="u", prompt="p")
    )
    return session, thread, o


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite:///data/dir/x.db", "data/dir/x.db"),
        ("sqlite:////abs/path.db", "/abs/path.db"),
        ("sqlite:////with%20space.db", "/with space.db"),
        ("sqlite://", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_from_url(url: str, path: str) -> None:
    store = SQLiteStore.from_url(url)
    assert isinstance(store, SQLiteStore) and store.path == path
    assert isinstance(store_from_url(url), SQLiteStore)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://host/x.db", "unsupported SQLite URL"),
        ("sqlite:///x.db?mode=ro", "unknown option 'mode'"),
        ("sqlite:///x.db?synchronous=off", "synchronous must be 'normal' or 'full'"),
        ("sqlite:///x.db?synchronous=full&journal=delete", "unknown option 'journal'"),
        ("sqlite:///x.db?&", "unsupported query"),
        ("memory://", "not a sqlite:// URL"),
        ("sqlite:///x.db#f", "a '#' starts a URL's fragment, so it cannot be part of the file's name as it is"),
        ("sqlite:/tmp/x.db", "unsupported SQLite URL"),  # (relative tmp/x.db, or /tmp/x.db? it said neither)
        ("sqlite:x.db", "unsupported SQLite URL"),
        ("sqlite:///", "names no file"),  # (was a database in memory, gone with the process)
        ("sqlite:///?synchronous=full", "names no file"),
        # (a template's `&synchronous=full` appended to a URL that had `?synchronous=normal`: the last one was taken,
        # without a word, and the store's commits did not survive a power loss as the URL asked)
        ("sqlite:///x.db?synchronous=normal&synchronous=full", "gives synchronous more than once: give it once"),
        ("sqlite:///x.db?synchronous=full&synchronous=normal", "gives synchronous more than once: give it once"),
    ],
)
def test_from_url_rejects(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        SQLiteStore.from_url(url)


@pytest.mark.parametrize(
    ("url", "synchronous"),
    [
        ("sqlite:///x.db", "normal"),
        ("sqlite:///x.db?synchronous=normal", "normal"),
        ("sqlite:///x.db?synchronous=full", "full"),
        ("sqlite:///x.db?synchronous=FULL", "full"),
        ("sqlite://?synchronous=full", "full"),
    ],
)
def test_from_url_reads_synchronous(url: str, synchronous: str) -> None:
    store = SQLiteStore.from_url(url)
    assert store.synchronous == synchronous
    assert ("synchronous='full'" in repr(store)) == (synchronous == "full")


def test_synchronous_must_be_normal_or_full() -> None:
    with pytest.raises(ValueError, match="synchronous must be 'normal' or 'full', not 'off'"):
        SQLiteStore("x.db", synchronous="off")  # type: ignore[arg-type]


@pytest.mark.parametrize(("synchronous", "pragma"), [("normal", 1), ("full", 2)])
async def test_every_connection_commits_with_the_synchronous_asked_for(
    tmp_path: Path, synchronous: str, pragma: int
) -> None:
    """SQLite's `synchronous` is per connection: the writer's decides when a commit is on the disk."""
    store = await open_store(f"sqlite:///{tmp_path / 'ox.db'}?synchronous={synchronous}")
    try:
        assert isinstance(store, SQLiteStore)
        _, _, o = await _tree(store)
        assert store._conn is not None and store._rconn is not None
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == pragma
        assert store._rconn.execute("PRAGMA synchronous").fetchone()[0] == pragma
        o.status = "completed"
        await store.commit(o)
        assert (await store.get_orchestration(o.id)).status == "completed"
    finally:
        await store.close()


async def test_open_store_creates_the_directory_and_a_wal_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "ox.db"
    store = await open_store(f"sqlite:///{path}")
    try:
        assert isinstance(store, SQLiteStore)
        await _tree(store)
    finally:
        await store.close()
    await store.close()  # idempotent
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
    conn.close()


async def test_use_before_open_is_a_clear_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    with pytest.raises(StoreError, match="not open"):
        await store.get_session("0" * 24)


async def test_opens_at_once_open_one_set_of_threads_and_close_them_all(tmp_path: Path) -> None:
    # Two orchestrators sharing one store, each opening it at its first run (or `gather` of opens): every `open`
    # made its worker, reader and checkpoint threads with their connections, and `close` ended only the last set.
    def ours() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.endswith(str(tmp_path / "x.db"))]

    store = SQLiteStore(tmp_path / "x.db")
    await asyncio.gather(*(store.open() for _ in range(4)))
    assert len(ours()) == 3  # a worker, a reader, a checkpointer
    assert await store.list_sessions("ada") == []
    await store.close()
    deadline = time.monotonic() + 5
    while ours() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert ours() == []


async def test_data_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    async with SQLiteStore(path) as store:
        session, _, o = await _tree(store, cost_limit=1.0)
        assert await store.reserve_budget(session.id, o.id, 0.4)
        await store.commit(o, [_event(o)], spent=0.1)
        await store.incr("k", 5)
    async with SQLiteStore(path) as store:
        got = await store.get_session(session.id)
        assert (got.total_cost, got.reserved_cost) == (0.1, 0.4)
        await store.commit(o, [_event(o)])
        assert [e.seq for e in await store.list_events(session.id)] == [1, 2]
        assert await store.release_reservations(session.id, o.id) == 0.4
        assert await store.incr("k") == 6


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    async with SQLiteStore(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema version 99"):
        await SQLiteStore(path).open()
    # from the command line: which file ("this database has schema version 99" named none)
    listed = run_cli("runs", "list", "--store", f"sqlite:///{path}")
    assert listed.returncode == 1 and listed.stdout == ""
    assert listed.stderr.splitlines() == [
        f"orchestratex: StoreError: cannot open SQLite database '{path}': its schema version 99 is newer than this"
        " OrchestrateX understands (2): a newer version wrote it; upgrade orchestratex"
    ]


async def test_a_failed_commit_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    async with SQLiteStore(path) as store:
        session, _, o = await _tree(store, cost_limit=1.0)
        assert await store.reserve_budget(session.id, o.id, 0.5)
        conn = sqlite3.connect(path)  # a stray row where the commit's second event goes
        conn.execute("INSERT INTO events VALUES (?, 2, 'x', '{}')", (session.id,))
        conn.commit()
        conn.close()
        o.status = "running"
        events = [_event(o), _event(o)]
        with pytest.raises(StoreError):
            await store.commit(o, events, spent=0.25, released=0.5)
        assert [e.seq for e in events] == [0, 0]
        got = await store.get_session(session.id)
        assert (got.total_cost, got.reserved_cost) == (0.0, 0.5)
        assert (await store.get_orchestration(o.id)).status == "pending"


async def test_two_connections_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    async with SQLiteStore(path) as first, SQLiteStore(path) as second:
        session, thread, a = await _tree(first, cost_limit=1.0)
        b = await second.create_orchestration(
            Orchestration(thread_id=thread.id, session_id=session.id, user_id="u", prompt="p")
        )
        steps = [s.commit(o, [_event(o)]) for _ in range(30) for s, o in ((first, a), (second, b))]
        reserves = [s.reserve_budget(session.id, a.id, 0.03) for _ in range(30) for s in (first, second)]
        await asyncio.gather(*steps)
        granted = await asyncio.gather(*reserves)
        assert granted.count(True) == 33
        assert [e.seq for e in await second.list_events(session.id)] == list(range(1, 61))
        assert (await first.get_session(session.id)).reserved_cost == 0.99


_WORKER = textwrap.dedent(
    """
    import asyncio, json, os, sys, time
    from orchestratex.events import ModelSelected
    from orchestratex.records import Iteration, Orchestration
    from orchestratex.stores import SQLiteStore

    async def main(path, session_id, thread_id, go, n):
        async with SQLiteStore(path) as store:
            o = await store.create_orchestration(
                Orchestration(thread_id=thread_id, session_id=session_id, user_id="u", prompt="p"))
            print("ready", flush=True)
            while not os.path.exists(go):
                time.sleep(0.005)
            granted, seqs = 0, []
            for i in range(n):
                ok = await store.reserve_budget(session_id, o.id, 0.01)
                granted += ok
                event = ModelSelected(orchestration_id=o.id, thread_id=thread_id, session_id=session_id,
                                      model_name="m", reasoning="r", iteration=i + 1)
                o.iterations.append(Iteration(index=i + 1, model_name="m", prompt="p"))  # a step appended
                await store.commit(o, [event], spent=0.01 if ok else 0.0, released=0.01 if ok else 0.0)
                seqs.append(event.seq)
                await asyncio.sleep(0.002)  # a model call would take far longer
            print(json.dumps({"id": o.id, "granted": granted, "seqs": seqs, "doc": o.model_dump_json()}))

    asyncio.run(main(*sys.argv[1:5], int(sys.argv[5])))
    """
)


@pytest.mark.slow
async def test_two_processes_commit_and_reserve_on_one_file(tmp_path: Path) -> None:
    path, go, n = tmp_path / "shared.db", tmp_path / "go", 200
    async with SQLiteStore(path) as store:
        session, thread, _ = await _tree(store, cost_limit=3.0)
    args = [str(path), session.id, thread.id, str(go), str(n)]
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for proc in procs:  # (both started and waiting: a sleep of 0.2 s let a worker still importing start late, and
        assert proc.stdout is not None  # the other could make its 200 steps alone)
        assert proc.stdout.readline() == b"ready\n", proc.communicate(timeout=60)[1].decode()
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        results.append(json.loads(out))
    assert sum(r["granted"] for r in results) == 300  # 3.00 $ of 0.01 $ reservations out of 400 attempts
    for r in results:
        assert r["seqs"] == sorted(r["seqs"]) and len(r["seqs"]) == n
    assert sorted(s for r in results for s in r["seqs"]) == list(range(1, 2 * n + 1))
    async with SQLiteStore(path) as store:
        got = await store.get_session(session.id)
        assert (got.total_cost, got.reserved_cost) == (3.0, 0.0)
        events = await store.list_events(session.id, limit=10_000)
        assert [e.seq for e in events] == list(range(1, 2 * n + 1))
        assert {e.orchestration_id for e in events} == {r["id"] for r in results}
        for r in results:  # each process's run as it committed it, its steps appended one by one
            assert await store.get_orchestration(r["id"]) == Orchestration.model_validate_json(r["doc"])
        switches = sum(1 for x, y in itertools.pairwise(events) if x.orchestration_id != y.orchestration_id)
        assert switches > 1  # the two processes really ran at the same time


async def test_expired_counters_are_deleted_now_and_then(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    async with SQLiteStore(path) as store:
        await store.incr("old", ttl_s=1e-6)
        await store.incr("kept")
        for _ in range(1000):
            await store.incr("busy")
        conn = sqlite3.connect(path)
        keys = {key for (key,) in conn.execute("SELECT key FROM counters")}
        conn.close()
        assert keys == {"kept", "busy"}


async def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, just some text that is long enough " * 200)
    with pytest.raises(StoreError, match="cannot open SQLite database"):
        await SQLiteStore(path).open()


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///runs.db", "sqlite:////tmp/runs.db", "sqlite:///:memory:", "SQLite:///runs.db"]
)
async def test_a_url_given_as_the_path_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    # it was taken as a path: `sqlite://` opened a file named `sqlite:` in the working directory, shared by every
    # store so made (`sqlite:///runs.db` a file in a directory `sqlite:`)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"SQLiteStore takes a file path, not a URL .* SQLiteStore.from_url\(url\)"):
        SQLiteStore(url)
    assert list(tmp_path.iterdir()) == []
    async with SQLiteStore(tmp_path / "sqlite:x.db"):  # a path (not a str) is whatever it names
        pass


async def test_a_folder_that_cannot_be_made_is_a_store_error_naming_the_database(tmp_path: Path) -> None:
    # a raw NotADirectoryError or FileNotFoundError before, from making the database's folder
    (tmp_path / "a-file").write_text("")
    cases: list[tuple[str, str]] = [
        (f"{tmp_path}/a-file/runs.db", "Not a directory"),
        ("/proc/none/runs.db", "No such"),
    ]
    for path, why in cases:
        with pytest.raises(StoreError, match=rf"cannot open SQLite database '{path}': {why}"):
            await SQLiteStore(path).open()


def test_busy_timeout_must_be_a_sane_number_of_seconds() -> None:
    for bad in (-1.0, float("nan"), 1e9):
        with pytest.raises(ValueError, match="busy_timeout"):
            SQLiteStore(busy_timeout=bad)


async def test_opening_a_database_another_process_locked_is_unavailable(tmp_path: Path) -> None:
    db = tmp_path / "locked.db"  # (a new database: its tables must be written)
    holder = LockHolder(db)
    holder.start()
    try:
        with pytest.raises(StoreUnavailable, match="cannot open SQLite database"):
            await SQLiteStore(db, busy_timeout=0.05).open()
    finally:
        holder.stop()
    async with SQLiteStore(db, busy_timeout=0.05) as store:
        assert await store.list_resumable() == []


async def test_a_complete_database_opens_and_reads_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    # opening ran `BEGIN IMMEDIATE` (to create what was already there) and deleted expired counters: while another
    # process held the write lock (a long write, an edit left uncommitted in a database browser), `orchestratex runs
    # list` and `keys list` waited the busy timeout (10 s) and failed with "StoreUnavailable: cannot open SQLite
    # database ...: database is locked", though they only read
    from orchestratex.records import ApiKey

    db = tmp_path / "locked.db"
    async with SQLiteStore(db) as store:
        session = await store.create_session(Session(user_id="alice"))
        await store.create_api_key(ApiKey(key_hash="ab" * 32, user_id="alice"))
        await store.incr("window", 1, ttl_s=0.001)
    await asyncio.sleep(0.01)  # (the counter's window has passed: the next open forgets it, when it can write)
    holder = LockHolder(db)
    holder.start()
    try:
        async with SQLiteStore(db, busy_timeout=0.2) as store:
            assert [s.id for s in await store.list_sessions("alice")] == [session.id]
            with pytest.raises(StoreUnavailable, match="busy"):  # writes still wait for the lock, then fail
                await store.create_session(Session(user_id="bob"))
        for args in (("runs", "list"), ("keys", "list")):
            done = run_cli(*args, "--store", f"sqlite:///{db}")
            assert done.returncode == 0, done.stderr
        assert "alice" in done.stdout
    finally:
        holder.stop()
    async with SQLiteStore(db):
        pass
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT key FROM counters").fetchall() == []  # forgotten once the lock was free
    conn.close()


async def test_a_new_database_is_private_to_its_owner(tmp_path: Path) -> None:
    import stat

    path = tmp_path / "new" / "deeper" / "orchestratex.db"
    async with SQLiteStore(path) as store:
        await store.create_session(Session(user_id="alice"))
    for created in (path.parent, path.parent.parent):
        assert stat.S_IMODE(created.stat().st_mode) == 0o700
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    existing = tmp_path / "existing.db"
    existing.touch(mode=0o644)
    existing.chmod(0o644)
    async with SQLiteStore(existing):
        pass
    assert stat.S_IMODE(existing.stat().st_mode) == 0o644  # a file the user made keeps the mode they chose
    # a link to a file not made yet (a volume mounted there): its target was made with the umask's mode (0644)
    target, link = tmp_path / "volume" / "runs.db", tmp_path / "runs.db"
    link.symlink_to(target)
    async with SQLiteStore(link) as store:
        await store.create_session(Session(user_id="alice"))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    (tmp_path / "a.db").symlink_to(tmp_path / "b.db")  # a loop of links: an error naming the database
    (tmp_path / "b.db").symlink_to(tmp_path / "a.db")
    with pytest.raises(StoreError, match=r"cannot open SQLite database .*a\.db.*: Too many levels of symbolic links"):
        await SQLiteStore(tmp_path / "a.db").open()


async def test_a_store_error_names_no_file_path(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "db.sqlite") as store:

        def broken() -> None:
            raise sqlite3.OperationalError("disk I/O error")

        with pytest.raises(StoreError) as failed:
            await store._run(broken)
    assert str(tmp_path) not in str(failed.value) and "disk I/O error" in str(failed.value)


def test_a_damaged_wal_index_is_logged_before_it_can_crash_the_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from orchestratex.stores.sqlite._checkpoint import _ShmWatch

    shm = tmp_path / "db.sqlite-shm"
    watch = _ShmWatch(str(shm))
    watch.check()  # not there yet: nothing to say
    shm.write_bytes(b"\0" * 32768)
    watch.check()
    assert not caplog.records
    shm.write_bytes(b"\0" * 10)  # truncated under the processes that map it
    watch.check()
    watch.check()  # the same problem is logged once
    replaced = tmp_path / "other"
    replaced.write_bytes(b"\0" * 32768)
    replaced.replace(shm)
    watch.check()
    messages = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(messages) == 2
    assert "shrank from 32768 to 10 bytes" in messages[0] and "SIGBUS" in messages[0]
    assert "was replaced by another file" in messages[1]


def _open_together(path: Path, n: int) -> tuple[list[str], list[BaseException]]:
    """`n` threads open `path` with the store's `connect` at the same instant: the journal modes they see, and
    what they raised."""
    import threading

    from orchestratex.stores.sqlite._schema import connect

    barrier = threading.Barrier(n)
    modes: list[str] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        barrier.wait()
        try:
            conn = connect(str(path))
            modes.append(conn.execute("PRAGMA journal_mode").fetchone()[0])
            conn.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return modes, errors


def test_connections_opening_a_rollback_journal_file_at_once_all_get_it_in_wal(tmp_path: Path) -> None:
    """Switching a file to WAL escalates a shared lock to an exclusive one; of two connections doing it at once,
    SQLite fails one with SQLITE_BUSY without waiting (its deadlock guard). Opening must wait and retry instead:
    this failed about one round in eight before (processes starting together on a new or version 1 file)."""
    for round_ in range(30):
        path = tmp_path / f"r{round_}.db"
        seed = sqlite3.connect(path, isolation_level=None)  # a rollback journal, as a new or version 1 file has
        seed.execute("CREATE TABLE t (x)")
        seed.close()
        modes, errors = _open_together(path, 6)
        assert not errors, f"round {round_}: {errors[0]!r}"
        assert modes == ["wal"] * 6


def test_an_error_sqlite_ends_the_transaction_on_is_not_hidden_by_the_rollback() -> None:
    # a disk I/O error while the schema was created (SQLite then rolls the transaction back itself) was reported
    # as "cannot rollback - no transaction is active", from the store's own ROLLBACK
    from orchestratex.stores.sqlite._schema import connect, create_schema

    conn = connect(os.devnull)  # (every write of the file fails: an I/O error)
    try:
        with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
            create_schema(conn)
        assert not conn.in_transaction
    finally:
        conn.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "memory://"])
async def test_an_in_memory_store_closed_and_opened_again_keeps_what_it_had(url: str) -> None:
    # an `Orchestrator(store="sqlite://")` closed (a `with` block, `close()`) and used again reopens its store: a
    # MemoryStore kept its data, but the in-memory SQLite database was a new, empty one, so a follow-up on the first
    # run's thread failed with "NotFound: no thread ..."
    from orchestratex import Orchestrator

    orchestrator = Orchestrator(simulate=True, store=url)
    async with orchestrator:
        first = await orchestrator.run("What is 2 + 2?", max_iterations=1)
    async with orchestrator:
        again = await orchestrator.run("And 3 + 3?", thread=first.orchestration.thread_id, max_iterations=1)
        store = orchestrator.store
        runs = await store.list_orchestrations(thread_id=first.orchestration.thread_id)
        assert [r.id for r in runs] == [first.id, again.id]
        assert (await store.get_session(first.orchestration.session_id)).total_cost == pytest.approx(
            first.orchestration.total_cost + again.orchestration.total_cost
        )


async def test_an_in_memory_sqlite_store_opened_again_has_its_data() -> None:
    direct = SQLiteStore()
    async with direct:
        session = await direct.create_session(Session(user_id="ada"))
    async with direct:
        assert (await direct.get_session(session.id)).id == session.id
        assert [s.id for s in await direct.list_sessions("ada")] == [session.id]


async def test_listing_api_keys_does_not_wait_for_another_processs_write_lock(tmp_path: Path) -> None:
    # `list_api_keys` (`GET /api/admin/keys/`, `orchestratex keys list`) ran on the writer: while another process held
    # the write lock it queued behind the writes waiting for it, then failed itself with "StoreUnavailable: the SQLite
    # database is busy ...; nothing was written" (a read), after twice the busy timeout
    from orchestratex.records import ApiKey

    db = tmp_path / "keys.db"
    async with SQLiteStore(db) as store:
        key = await store.create_api_key(ApiKey(key_hash="ab" * 32, user_id="alice", label="laptop"))
    holder = LockHolder(db)
    try:
        # (a busy timeout of 30 s and reads given 10: with 3 s and 1.5 s, a loaded runner pausing the test for a second
        # or two timed a read out, or let the queued write fail, though nothing waited for the lock)
        async with SQLiteStore(db, busy_timeout=30) as store:  # (a server's store, open when the lock is taken)
            holder.start()
            waiting = asyncio.create_task(store.create_session(Session(user_id="alice")))  # queued behind the lock
            await asyncio.sleep(0.05)
            listed = await asyncio.wait_for(store.list_api_keys(), 10)  # (less than the busy timeout)
            assert [k.id for k in listed] == [key.id]
            assert [k.id for k in await asyncio.wait_for(store.list_api_keys("alice"), 10)] == [key.id]
            assert not waiting.done()
            holder.stop()
            await waiting
    finally:
        holder.stop()


async def test_a_record_missing_a_required_field_is_not_said_to_exist_already(tmp_path: Path) -> None:
    # a field set to None after the record was made (`session.user_id = request.headers.get("X-User")`) failed SQLite's
    # NOT NULL constraint, which the store reported as "session '…' already exists": a Conflict for a new id
    from typing import Any

    from orchestratex.exceptions import Conflict, UserError

    async with SQLiteStore(tmp_path / "runs.db") as store:
        session = Session(user_id="ada")
        unset: Any = None
        session.user_id = unset
        with pytest.raises(UserError) as refused:
            await store.create_session(session)
        assert not isinstance(refused.value, Conflict)
        assert str(refused.value) == f"session {session.id!r}: user_id must be a string, not None; nothing was stored"
        session.user_id = "ada"
        await store.create_session(session)  # nothing was stored: the same id is free
        with pytest.raises(Conflict, match="already exists"):
            await store.create_session(session)
        thread = await store.create_thread(Thread(session_id=session.id, user_id="ada", original_prompt="p"))
        run = Orchestration(thread_id=thread.id, session_id=session.id, user_id="ada", prompt="p")
        run.user_id = unset
        with pytest.raises(
            UserError, match=r"^orchestration \w+: user_id must be a string, not None; nothing was stored$"
        ):
            await store.create_orchestration(run)
        key = ApiKey(key_hash="h", user_id="ada")
        key.user_id = unset
        with pytest.raises(UserError, match=r"^API key '\w+': user_id must be a string, not None; nothing was stored$"):
            await store.create_api_key(key)
        key.user_id = "ada"
        await store.create_api_key(key)


async def test_writes_queued_while_another_process_holds_the_lock_each_wait_one_busy_timeout(tmp_path: Path) -> None:
    # Each write queued behind another that waited for the lock waited a busy timeout of its own after it: six writes
    # sent a moment apart while another process held the lock were answered one busy timeout after another (a minute
    # with the default 10 s), most after the lock was free. Each now waits the busy timeout from when it was sent.
    db = tmp_path / "queued.db"
    async with SQLiteStore(db):
        pass
    holder = LockHolder(db)
    holder.start()
    try:
        async with SQLiteStore(db, busy_timeout=0.5) as store:

            async def release_later() -> None:
                await asyncio.sleep(2.5)  # (five busy timeouts: the queued writes would have run after it, and passed)
                await asyncio.to_thread(holder.stop)

            releasing = asyncio.create_task(release_later())
            writes = []
            for user in ("a", "b", "c", "d", "e", "f"):  # (one a turn of the loop: a batch each, queued in order)
                writes.append(asyncio.create_task(store.create_session(Session(user_id=user))))
                await asyncio.sleep(0.02)
            outcomes = await asyncio.gather(*writes, return_exceptions=True)
            assert not releasing.done()  # every write was answered while the lock was still held
            assert [type(o) for o in outcomes] == [StoreUnavailable] * 6, outcomes
            await releasing
            assert (await store.create_session(Session(user_id="g"))).user_id == "g"  # (the lock is free again)
    finally:
        holder.stop()
