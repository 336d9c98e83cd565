"""The store URL of an earlier version's configuration, read by this one: the store that version kept is found."""

from __future__ import annotations

import asyncio
from pathlib import Path

from orchestratex import SQLiteStore
from orchestratex.records import Orchestration, Session, Thread

from .conftest import cli_env, run_cli


async def _a_run_in(path: Path) -> str:
    async with SQLiteStore(path) as store:
        session = await store.create_session(Session(user_id="alice"))
        thread = await store.create_thread(Thread(session_id=session.id, user_id="alice", original_prompt="Hello"))
        run = Orchestration(thread_id=thread.id, session_id=session.id, user_id="alice", prompt="Hello")
        return (await store.create_orchestration(run)).id


def test_a_store_url_with_a_space_after_it_names_the_file_earlier_versions_kept(tmp_path: Path) -> None:
    # `ORCHESTRATEX_STORE_URL=sqlite:///runs.db ` (a space left at the end of an env file's line): earlier versions
    # kept the store in a file named 'runs.db ' with the space; this one drops the space, and so opened 'runs.db', a
    # new, empty store, without a word (a server: every run gone from sight, every client's key refused)
    kept = tmp_path / "runs.db "  # (a Path is taken as it is)
    oid = asyncio.run(_a_run_in(kept))
    env = cli_env(ORCHESTRATEX_STORE_URL="sqlite:///runs.db ")

    refused = run_cli("runs", "list", env=env, cwd=tmp_path)
    assert refused.returncode == 2, refused
    assert f"keeps this store's runs and API keys in {str(kept)!r}: rename that file" in refused.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.db "]  # nothing made, nothing touched

    kept.rename(tmp_path / "runs.db")  # as it says
    listed = run_cli("runs", "list", env=env, cwd=tmp_path)
    assert listed.returncode == 0 and oid in listed.stdout, listed
