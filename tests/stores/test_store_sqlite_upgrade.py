"""Upgrading a SQLite store written by an earlier release: what it recorded reads back as the current version
would have recorded it."""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from orchestratex import Orchestrator, SQLiteStore
from orchestratex.exceptions import ConfigurationError, UserError
from orchestratex.records import Session
from orchestratex.routing import BayesianRouter
from orchestratex.stores import store_from_url
from orchestratex.stores._url import sqlite_url

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


def _limit_stored_by_an_earlier_version(path: Path, table: str, oid: str, limit: float) -> None:
    """Set the `cost_limit` of a session or orchestration document as versions before `MAX_AMOUNT` bounded it did
    (they took any limit the store could hold)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"UPDATE {table} SET doc = json_set(doc, '$.settings.cost_limit', ?) WHERE id = ?", (limit, oid))
    if table == "sessions":
        conn.execute("UPDATE sessions SET limit_pico = ? WHERE id = ?", (int(limit * 10**12), oid))
    conn.close()


async def test_a_cost_limit_over_a_million_an_earlier_version_stored_is_read_and_the_session_goes_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.db"
    provider = scripted(answer_attempt, score_of_answer({1: 9.0}))
    options: dict[str, Any] = {"catalog": catalog("a", "b"), "retry": NO_WAIT, "judges": ["function:b"]}
    async with Orchestrator(providers=[provider], store=SQLiteStore(path), **options) as orch:
        session = await orch.create_session("alice", cost_limit=1.0)
        first = await orch.run("Hello", session=session, cost_limit=1.0, max_iterations=1)
    _limit_stored_by_an_earlier_version(path, "sessions", session.id, 5_000_000.0)
    _limit_stored_by_an_earlier_version(path, "orchestrations", first.id, 4_000_000.0)

    async with Orchestrator(providers=[provider], store=SQLiteStore(path), **options) as orch:
        store = orch.store
        got = await store.get_session(session.id)
        assert got.settings.cost_limit == 5_000_000.0 and got.total_cost == first.total_cost
        assert [s.id for s in await store.list_sessions("alice")] == [session.id]
        run = await store.get_orchestration(first.id)
        assert run.settings.cost_limit == 4_000_000.0 and run.status == "completed" and run.error is None
        [listed] = await store.list_orchestrations(session_id=session.id)
        assert listed == run
        again = await orch.run("Again", session=session.id, max_iterations=1)
        assert again.status == "completed"
        assert (await store.get_session(session.id)).total_cost == first.total_cost + again.total_cost


async def test_a_first_release_run_with_a_cost_limit_over_a_million_is_migrated_readable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source, path = tmp_path / "now.db", tmp_path / "first.db"
    provider = scripted(answer_attempt, score_of_answer({1: 9.0}))
    options: dict[str, Any] = {"catalog": catalog("a", "b"), "retry": NO_WAIT, "judges": ["function:b"]}
    async with Orchestrator(providers=[provider], store=SQLiteStore(source), **options) as orch:
        session = await orch.create_session("alice")
        first = await orch.run("Hello", session=session, cost_limit=1.0, max_iterations=1)
    await _to_first_release(source, path)
    _limit_stored_by_an_earlier_version(path, "orchestrations", first.id, 5_000_000.0)

    with caplog.at_level(logging.WARNING, logger="orchestratex"):
        async with SQLiteStore(path) as upgraded:
            run = await upgraded.get_orchestration(first.id)
    assert run.settings.cost_limit == 5_000_000.0 and run.iterations == first.orchestration.iterations
    assert "cannot read" not in caplog.text and "not a document" not in caplog.text


async def test_a_store_an_earlier_version_kept_in_a_folder_named_tilde_is_named_where_its_url_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Earlier versions took ORCHESTRATEX_STORE_URL=sqlite:///~/runs.db as it is: the store, its runs and API keys, went
    # into a folder named '~' in the working directory. This one refuses the URL; told only the expanded path, the
    # upgraded server opened a new, empty store there (every run gone from sight, every client's key refused).
    monkeypatch.chdir(tmp_path)
    async with SQLiteStore(tmp_path / "made.db") as store:
        session = await store.create_session(Session(user_id="alice"))
    (tmp_path / "~").mkdir()
    (tmp_path / "made.db").rename(tmp_path / "~" / "runs.db")
    kept = str(tmp_path / "~" / "runs.db")

    with pytest.raises(ConfigurationError) as refused:
        store_from_url("sqlite:///~/runs.db")
    said = str(refused.value)
    assert f"give {sqlite_url(kept)} to go on using that file" in said and "'~' is not expanded" in said
    with pytest.raises(UserError, match="give " + re.escape(repr(kept))):
        SQLiteStore("~/runs.db")
    async with store_from_url(sqlite_url(kept)) as store:  # (as it says)
        assert (await store.get_session(session.id)).user_id == "alice"

    monkeypatch.chdir(tmp_path / "~")  # no such folder here: nothing more to say
    with pytest.raises(ConfigurationError) as refused:
        store_from_url("sqlite:///~/runs.db")
    assert "earlier version" not in str(refused.value)


@pytest.mark.parametrize(("url", "earlier"), [("sqlite:/runs.db", "runs.db"), ("sqlite:runs.db", "uns.db")])
async def test_a_url_without_its_slashes_names_the_file_an_earlier_version_read_it_as(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, earlier: str
) -> None:
    # earlier versions took these URLs, dropping the path's first character; this one refuses them, offering
    # sqlite:///relative.db and sqlite:////absolute/path.db, one of which is a new, empty store
    monkeypatch.chdir(tmp_path)
    async with SQLiteStore(tmp_path / earlier) as store:
        session = await store.create_session(Session(user_id="alice"))
    with pytest.raises(ConfigurationError) as refused:
        store_from_url(url)
    kept = sqlite_url(str(tmp_path / earlier))
    assert str(refused.value).endswith(f"runs and API keys: give {kept} to go on using it")
    async with store_from_url(kept) as store:  # (as it says)
        assert (await store.get_session(session.id)).user_id == "alice"
    (tmp_path / earlier).unlink()
    with pytest.raises(ConfigurationError) as refused:  # no such file: nothing more to say
        store_from_url(url)
    assert "earlier version" not in str(refused.value)


async def test_a_path_with_white_space_names_the_file_an_earlier_version_made_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLiteStore(open("db-path.txt").read()): earlier versions kept the store in 'runs.db\n'; this one refuses the
    # path, saying to remove the white space, which names a new, empty store
    monkeypatch.chdir(tmp_path)
    kept = tmp_path / "runs.db\n"
    async with SQLiteStore(kept) as store:  # (a Path is taken as it is)
        session = await store.create_session(Session(user_id="alice"))
    with pytest.raises(UserError) as refused:
        SQLiteStore("runs.db\n")
    assert f"give pathlib.Path({str(kept)!r}) to go on using that file" in str(refused.value)
    async with SQLiteStore(Path(str(kept))) as store:  # (as it says)
        assert (await store.get_session(session.id)).user_id == "alice"
    with pytest.raises(UserError) as refused:  # another name: nothing more to say
        SQLiteStore(" runs.db")
    assert "earlier version" not in str(refused.value)
