"""`orchestratex keys revoke`, run as a process: revoking a key says so; revoking it again says it already was."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest

from .conftest import cli_env, run_cli

pytest.importorskip("fastapi")  # (keys are for the server: `keys create` needs orchestratex[server])


def test_revoking_a_revoked_key_says_it_already_was(store_url: str) -> None:
    assert run_cli("keys", "create", "alice", "--store", store_url).returncode == 0
    (key,) = json.loads(run_cli("keys", "list", "--json", "--store", store_url).stdout)
    first = run_cli("keys", "revoke", key["_id"], "--store", store_url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"orchestratex: revoked key {key['_id']} of user 'alice'; servers on ")
    # (not "refuse it from now on": a server caching keys, and open streams, still take it a while, which someone
    # revoking a leaked key must know)
    assert "ORCHESTRATEX_AUTH_CACHE_S above 0) accepts it for up to that long" in first.stdout
    assert "open WebSockets and /v1 calls within ORCHESTRATEX_WS_AUTH_CHECK_S (5 s)" in first.stdout
    (revoked,) = json.loads(run_cli("keys", "list", "--json", "--store", store_url).stdout)

    again = run_cli("keys", "revoke", key["_id"], "--store", store_url)
    assert again.returncode == 0, again.stderr
    when = revoked["revoked_at"][:16].replace("T", " ")
    assert again.stdout == (
        f"orchestratex: key {key['_id']} of user 'alice' was already revoked ({when} UTC); nothing changed\n"
    )
    (still,) = json.loads(run_cli("keys", "list", "--json", "--store", store_url).stdout)
    assert still["revoked_at"] == revoked["revoked_at"]  # the first revocation is the one kept


def test_listing_the_keys_of_a_user_who_has_none_says_whose(store_url: str) -> None:
    assert run_cli("keys", "create", "alice", "--store", store_url).returncode == 0
    none = run_cli("keys", "list", "--user", "bob", "--store", store_url)
    assert none.returncode == 0, none.stderr
    assert none.stderr == f"orchestratex: no API keys of user 'bob' in {store_url}\n"  # (alice has one)


def test_keys_list_shows_one_aligned_line_per_key(store_url: str) -> None:
    """A label with a line break stays on its key's line, and a wide user id (two terminal cells a character)
    does not shift the columns after it."""
    assert run_cli("keys", "create", "用户", "--label", "ci\nnightly", "--store", store_url).returncode == 0
    assert run_cli("keys", "create", "bob", "--label", "laptop", "--store", store_url).returncode == 0
    done = run_cli("keys", "list", "--store", store_url)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert len(rows) == 2, done.stdout
    assert {row.rsplit("  ", 1)[-1] for row in rows} == {"ci nightly", "laptop"}
    column = header.index("ADMIN")
    for row in rows:
        before = row.split(" no ", 1)[0]  # everything before the ADMIN cell, in terminal cells
        assert sum(2 if "\u4e00" <= ch <= "\u9fff" else 1 for ch in before) + 1 == column, done.stdout


def test_a_key_is_revoked_by_the_key_itself_too(store_url: str) -> None:
    """A leaked key's holder may not know its id: it was `no API key 'ox_…'`, the whole secret repeated on stderr."""
    key = run_cli("keys", "create", "alice", "--store", store_url).stdout.strip()
    wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    refused = run_cli("keys", "revoke", wrong, "--store", store_url)
    assert refused.returncode == 2 and "is the key given (ox_" in refused.stderr and wrong not in refused.stderr
    done = run_cli("keys", "revoke", f" {key}\n", "--store", store_url)  # (pasted with white space around)
    assert done.returncode == 0, done.stderr
    (listed,) = json.loads(run_cli("keys", "list", "--json", "--store", store_url).stdout)
    assert listed["revoked_at"] is not None
    assert done.stdout.startswith(f"orchestratex: revoked key {listed['_id']} of user 'alice'")


@pytest.mark.parametrize(
    "wrapped",
    ['"{key}"', "'{key}'", "Bearer {key}", "Authorization: Bearer {key}", "X-API-Key: {key}", ' "Bearer {key}"\r\n'],
)
def test_a_leaked_key_is_revoked_as_it_was_found(store_url: str, wrapped: str) -> None:
    """A leaked key as found where it leaked — in the quotes of an env file (`KEY="ox_…"`), after the `Bearer ` of an
    Authorization header in a log — was looked up as an id: not revoked, and the whole secret repeated in the error."""
    key = run_cli("keys", "create", "alice", "--store", store_url).stdout.strip()
    done = run_cli("keys", "revoke", wrapped.format(key=key), "--store", store_url)
    assert done.returncode == 0, done.stderr
    (listed,) = json.loads(run_cli("keys", "list", "--json", "--store", store_url).stdout)
    assert listed["revoked_at"] is not None
    assert done.stdout.startswith(f"orchestratex: revoked key {listed['_id']} of user 'alice'")


def test_an_unknown_key_in_quotes_is_not_repeated(store_url: str) -> None:
    assert run_cli("keys", "create", "alice", "--store", store_url).returncode == 0
    secret = "ox_" + "N0tAKeyButSecretAllTheSame" * 2
    for given in (f'"{secret}"', f"Basic {secret}", f"token={secret}"):
        done = run_cli("keys", "revoke", given, "--store", store_url)
        assert done.returncode == 2
        assert secret not in done.stderr and secret[:6] in done.stderr, done.stderr


@pytest.mark.slow
def test_a_key_waiting_for_a_busy_store_says_so(tmp_path: Path) -> None:
    """Another process holds the SQLite store's write lock: `keys create` waits for it (up to the store's 10 s busy
    timeout) and said nothing meanwhile, as if it hung. After 2 s it now says what it waits for, then goes on."""
    import asyncio
    import sqlite3
    import threading

    from orchestratex.stores import SQLiteStore

    path = tmp_path / "busy.db"

    async def create() -> None:
        async with SQLiteStore(path):
            pass

    asyncio.run(create())  # (the schema made: opening it takes no write lock)
    holder = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")

    def commit() -> None:
        holder.execute("COMMIT")
        holder.close()

    release = threading.Timer(5.0, commit)
    release.start()
    try:
        done = run_cli("keys", "create", "alice", "--store", f"sqlite:///{path}")
    finally:
        release.join()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ox_")
    waiting, created = done.stderr.splitlines()
    assert waiting == f"orchestratex: waiting for the store sqlite:///{path} (another process may hold its write lock)…"
    assert created.startswith("orchestratex: new key for user 'alice'")


def test_a_slow_sqlite_store_whose_write_lock_nobody_holds_is_not_said_to_be_locked(tmp_path: Path) -> None:
    """Under load (a busy machine, a slow disk), `keys create` took over 2 s with no other process on the store and
    said `waiting for the store … (another process may hold its write lock)…`: the lock is now looked at when the
    notice is due, and the notice says only what is known. Here the notice is due at once (`SLOW_STORE_S = 0`)."""
    import sys

    from .conftest import cli_env

    path = tmp_path / "keys.db"
    slow = (
        "import sys, orchestratex.cli._stores as stores; stores.SLOW_STORE_S = 0.0\n"
        "from orchestratex.cli import main\n"
        "sys.exit(main(sys.argv[1:]))"
    )
    done = run_cli(
        "keys", "create", "alice", "--store", f"sqlite:///{path}"
    )  # (the schema made; no notice: it is fast)
    done = subprocess.run(
        [sys.executable, "-c", slow, "keys", "create", "bob", "--store", f"sqlite:///{path}"],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ox_")
    waiting, created = done.stderr.splitlines()
    assert waiting == f"orchestratex: waiting for the store sqlite:///{path} (it has not answered yet)…"
    assert created.startswith("orchestratex: new key for user 'bob'")


SLOW_SERVER_IMPORT = """
import sys
import time


class SlowServer:
    def find_spec(self, name, path=None, target=None):
        if name == "orchestratex.server":
            time.sleep(3)  # (longer than the 2 s after which a wait for the store is said)
        return None


sys.meta_path.insert(0, SlowServer())
"""
"""A `sitecustomize` making the import of `orchestratex.server` take 3 s, as it does on a busy machine."""


def test_a_slow_import_of_the_server_is_not_said_to_be_a_wait_for_the_store(tmp_path: Path) -> None:
    """On a busy machine (a CI runner, a laptop building something), importing the server took more than 2 s, and
    `keys create` said "waiting for the store … (another process may hold its write lock)…" of a new store no other
    process used: the import was timed as a wait for the store. It is done before."""
    (tmp_path / "slow").mkdir()
    (tmp_path / "slow" / "sitecustomize.py").write_text(SLOW_SERVER_IMPORT, encoding="utf-8")
    env = cli_env(PYTHONPATH=os.pathsep.join([str(tmp_path / "slow"), *filter(None, [os.environ.get("PYTHONPATH")])]))
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    done = run_cli("keys", "create", "alice", "--store", url, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"orchestratex: new key for user 'alice' (store {url}); it is shown only once, keep it safe\n"
    revoked = run_cli("keys", "revoke", done.stdout.strip(), "--store", url, env=env)  # (by the key: its hash)
    assert revoked.returncode == 0 and revoked.stderr == "", revoked.stderr
    assert revoked.stdout.startswith("orchestratex: revoked key ")


def test_a_store_server_that_does_not_answer_is_not_said_to_be_locked_by_another_process() -> None:
    """`keys create` on a MongoDB that does not answer said `waiting for the store mongodb://… (another process may
    hold its write lock)…`, a SQLite file's trouble: a MongoDB server has no such lock, it was down or unreachable."""
    pytest.importorskip("orchestratex_mongodb")
    done = run_cli("keys", "create", "alice", "--store", "mongodb://127.0.0.1:1/ox")  # (a port nothing listens on)
    assert done.returncode == 1 and done.stdout == ""
    waiting, failed = done.stderr.splitlines()
    assert waiting == "orchestratex: waiting for the store mongodb://127.0.0.1:1/ox (it has not answered yet)…"
    assert failed.startswith("orchestratex: StoreUnavailable: cannot reach MongoDB at mongodb://127.0.0.1:1/ox")


def test_a_run_stopping_on_a_store_that_does_not_answer_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    """The same of an interrupted run whose end the store was slow to record: `(it retries while another process
    holds the store)` was said of every store, a MongoDB server that does not answer too."""
    from orchestratex import Orchestrator
    from orchestratex.cli._interrupt import RunGuard
    from orchestratex.stores import MemoryStore, SQLiteStore

    async def said(store: object) -> str:
        guard = RunGuard(Orchestrator(simulate=True, store=store))  # type: ignore[arg-type]
        guard._oid, guard._stopping = "6b11ff88809f1d5848432615", asyncio.ensure_future(asyncio.sleep(1, True))
        guard._say_still_stopping()
        guard._stopping.cancel()
        return capsys.readouterr().err

    assert asyncio.run(said(MemoryStore())).endswith(
        "waiting for the store to record it (it retries until the store answers)\n"
    )
    assert asyncio.run(said(SQLiteStore())).endswith(
        "waiting for the store to record it (it retries while another process holds the store)\n"
    )


def test_a_new_admin_key_is_said_to_be_of_its_user(tmp_path: Path) -> None:
    """`keys create ops --admin` said "new admin key (store …)": not whose, which `keys list` shows and a server's
    access log names."""
    done = run_cli("keys", "create", "ops", "--admin", "--store", f"sqlite:///{tmp_path / 'keys.db'}")
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("orchestratex: new admin key for user 'ops' (store ")
