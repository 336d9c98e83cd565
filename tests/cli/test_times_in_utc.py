"""`runs list`, `runs show` and `keys list` show times in UTC, whatever offset a record was stored with. A run or a key
imported with its own offset (`2026-01-01T09:00:00+09:00`) was shown at `09:00` under "created (UTC)", after runs
created later that `runs list` rightly listed as newer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from orchestratex.records import ApiKey, Orchestration, Session, Thread
from orchestratex.stores import SQLiteStore

from .conftest import run_cli

_TOKYO = timezone(timedelta(hours=9))


async def _imported(path: Path) -> tuple[str, str]:
    """A run and a key stored with a +09:00 time (midnight UTC), then a run made half an hour later in UTC."""
    async with SQLiteStore(path) as store:
        session = await store.create_session(Session(user_id="ada"))
        thread = await store.create_thread(Thread(session_id=session.id, user_id="ada", original_prompt="p"))
        tokyo = datetime(2026, 1, 1, 9, 0, tzinfo=_TOKYO)
        imported = Orchestration(
            thread_id=thread.id,
            session_id=session.id,
            user_id="ada",
            prompt="imported",
            created_at=tokyo,
            updated_at=tokyo + timedelta(minutes=5),
        )
        await store.create_orchestration(imported)
        later = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
        await store.create_orchestration(
            imported.model_copy(update={"id": "a" * 24, "prompt": "later", "created_at": later})
        )
        key = ApiKey(key_hash="ab" * 32, user_id="ada", created_at=tokyo, last_used_at=tokyo + timedelta(hours=1))
        await store.create_api_key(key)
        return imported.id, key.id


def test_times_are_shown_in_utc_whatever_offset_they_were_stored_with(tmp_path: Path) -> None:
    run_id, key_id = asyncio.run(_imported(tmp_path / "runs.db"))
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    listed = run_cli("runs", "list", "--store", url, cwd=tmp_path)
    assert listed.returncode == 0, listed
    rows = [line.split()[:3] for line in listed.stdout.splitlines()[1:]]
    assert rows == [["a" * 24, "2026-01-01", "00:30:00"], [run_id, "2026-01-01", "00:00:00"]]  # newest first
    shown = run_cli("runs", "show", run_id, "--store", url, cwd=tmp_path)
    assert shown.returncode == 0, shown
    assert "created:  2026-01-01 00:00:00 UTC · updated 2026-01-01 00:05:00 UTC" in shown.stdout.splitlines()
    keys = run_cli("keys", "list", "--store", url, cwd=tmp_path)
    assert keys.returncode == 0, keys
    header, *_ = keys.stdout.splitlines()
    assert "CREATED (UTC)" in header and "LAST USED (UTC)" in header and "REVOKED (UTC)" in header, header
    (row,) = [line for line in keys.stdout.splitlines() if line.startswith(key_id)]
    assert "2026-01-01 00:00  2026-01-01 01:00" in row
