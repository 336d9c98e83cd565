"""The store `keys` and `runs` read or write: one that lives in memory is refused, one that is absent is not created."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from ..stores.sqlite_v1 import V1_DDL
from .conftest import CLI, cli_env, run_cli


@pytest.mark.parametrize("url", ["memory://", "MEMORY://", "sqlite://", "sqlite:///:memory:", "SQLite:///:memory:"])
def test_a_store_in_memory_is_refused_before_a_key_is_printed(url: str) -> None:
    """`keys create --store sqlite://` printed a key that no server could ever accept: it was written to a database
    in the command's own memory, gone when it exited."""
    done = run_cli("keys", "create", "alice", "--store", url)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"orchestratex: error: {url} keeps its data in this process's memory only (a memory:// store is lost when "
        "this command ends): give the store URL your server uses"
    ]
    for args in (("keys", "list"), ("keys", "revoke", "6b11ff87809f1d5848432613")):
        assert run_cli(*args, "--store", url).returncode == 2
    for args in (("runs", "list"), ("runs", "show", "6b11ff87809f1d5848432613")):
        refused = run_cli(*args, "--store", url)
        assert refused.returncode == 2 and "(a memory:// store is empty in a new process)" in refused.stderr


def test_listing_a_store_that_does_not_exist_says_so_and_does_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    url = f"sqlite:///{path}"
    runs = run_cli("runs", "list", "--store", url)
    assert runs.returncode == 0 and runs.stdout == ""
    assert runs.stderr.splitlines() == [
        f"orchestratex: no orchestrations: the store {url} does not exist (yet); "
        "check --store or ORCHESTRATEX_STORE_URL"
    ]
    as_json = run_cli("runs", "list", "--json", "--store", url)  # (`[]` alone hid the mistyped path)
    assert as_json.stdout == "[]\n" and as_json.stderr == runs.stderr
    keys = run_cli("keys", "list", "--store", url)
    assert keys.returncode == 0 and keys.stderr.splitlines() == [
        f"orchestratex: no API keys: the store {url} does not exist (yet)"
    ]
    keys_json = run_cli("keys", "list", "--json", "--store", url)
    assert keys_json.stdout == "[]\n" and keys_json.stderr == keys.stderr
    revoke = run_cli("keys", "revoke", "6b11ff87809f1d5848432613", "--store", url)
    assert revoke.returncode == 2 and "does not exist (yet)" in revoke.stderr
    assert not path.exists()


def test_filters_that_match_nothing_are_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    assert run_cli("run", "Hello", "--json", "--max-iterations", "1", "--store", url).returncode == 0
    done = run_cli("runs", "list", "--status", "failed", "--user", "nobody", "--store", url)
    assert done.returncode == 0
    assert done.stderr.splitlines() == [f"orchestratex: no orchestrations with status failed of user 'nobody' in {url}"]


def test_revoking_an_unknown_key_is_a_usage_error(tmp_path: Path) -> None:
    """It said `orchestratex: NotFound: no API key 'nope'` with exit code 1, as if something had failed."""
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    assert run_cli("keys", "create", "alice", "--store", url).returncode == 0
    done = run_cli("keys", "revoke", "nope", "--store", url)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"orchestratex: error: no API key 'nope' in {url} (list them with `orchestratex keys list --store {url}`)"
    ]
    # the store from ORCHESTRATEX_STORE_URL: the command suggested reads it too
    done = run_cli("keys", "revoke", "nope", env=cli_env(ORCHESTRATEX_STORE_URL=url))
    assert done.stderr.splitlines() == [
        f"orchestratex: error: no API key 'nope' in {url} (list them with `orchestratex keys list`)"
    ]


def test_a_default_store_that_cannot_open_says_how_to_choose_another(tmp_path: Path) -> None:
    # a HOME where the user's data directory cannot be made (read-only, or a file on the way): the one-line error
    # said why, not how to run anyway
    home = tmp_path / "home-is-a-file"
    home.write_text("")
    env = {k: v for k, v in cli_env(HOME=str(home)).items() if k != "XDG_DATA_HOME"}
    done = run_cli("run", "Hello", "--max-iterations", "1", env=env)
    assert done.returncode == 1
    assert "cannot open SQLite database" in done.stderr
    assert "choose another with ORCHESTRATEX_STORE_URL or, on the command line, --store" in done.stderr
    other = run_cli("run", "Hello", "--max-iterations", "1", "--store", f"sqlite:///{home}/x.db", env=env)
    assert other.returncode == 1 and "--store" not in other.stderr  # a store the user chose: no such advice


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            "C:\\Users\\me\\runs.db",  # said "no store is installed for c:// URLs"
            "store URL 'C:\\\\Users\\\\me\\\\runs.db' is a file's path, not a URL: give it as a SQLite URL, "
            "sqlite:///C:\\Users\\me\\runs.db",
        ),
        (
            "D:/data/runs.db",
            "store URL 'D:/data/runs.db' is a file's path, not a URL: give it as a SQLite URL, sqlite:///D:/data/runs.db",
        ),
        (
            "/srv/ox/runs.db",
            "store URL '/srv/ox/runs.db' has no scheme: use memory://, sqlite:///path.db or mongodb://… "
            "(for the SQLite file /srv/ox/runs.db: sqlite:////srv/ox/runs.db)",
        ),
    ],
)
def test_a_file_path_given_as_the_store_says_the_url_to_write(given: str, message: str) -> None:
    for args in (("runs", "list"), ("keys", "create", "alice"), ("run", "Hello")):
        done = run_cli(*args, "--store", given)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.splitlines() == [f"orchestratex: error: {message}"]


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("sqlite+aiosqlite:///./runs.db", "sqlite:///./runs.db"),  # SQLAlchemy's form (a DATABASE_URL reused)
        ("sqlite+pysqlite:///runs.db", "sqlite:///runs.db"),
        ("sqlite3:///runs.db", "sqlite:///runs.db"),
        ("file://{tmp}/runs.db", "sqlite:///{tmp}/runs.db"),
    ],
)
def test_a_sqlite_url_in_another_tools_form_says_the_url_to_write(tmp_path: Path, given: str, meant: str) -> None:
    # it said only "no store is installed for sqlite+aiosqlite:// URLs", as if a package were missing
    given, meant = given.format(tmp=tmp_path), meant.format(tmp=tmp_path)
    done = run_cli("runs", "list", "--store", given, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(f"orchestratex: error: no store is installed for {given.split(':')[0]}:// URLs: ")
    assert f"write {meant}" in line
    written = run_cli("run", "Hello", "--max-iterations", "1", "--store", meant, cwd=tmp_path)
    assert written.returncode == 0, written.stderr  # the URL it gives is one the store takes, for that file
    assert (tmp_path / "runs.db").is_file()


@pytest.mark.parametrize(
    ("name", "escaped"), [("runs#1.db", "runs%231.db"), ("what?.db", "what%3F.db"), ("a?b/c.db", "a%3Fb/c.db")]
)
def test_a_sqlite_file_name_with_a_url_character_says_how_to_write_it(tmp_path: Path, name: str, escaped: str) -> None:
    """`--store sqlite:///runs#1.db` said only `unsupported SQLite URL …: use sqlite:///relative.db, …`, and
    `sqlite:///what?.db` `unknown option '.db'`, neither saying what was wrong with the name."""
    char = "#" if "#" in name else "?"
    done = run_cli("runs", "list", "--store", f"sqlite:///{name}", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"orchestratex: error: SQLite URL 'sqlite:///{name}': a '{char}' starts ")
    assert done.stderr.rstrip().endswith(f"write it {'%23' if char == '#' else '%3F'} (sqlite:///{escaped})")
    if "/" not in name:  # the URL it gives stores the run in the file so named
        url = f"sqlite:///{escaped}"
        assert run_cli("run", "Hello", "--max-iterations", "1", "--store", url, cwd=tmp_path).returncode == 0
        assert (tmp_path / name).is_file()


def test_a_mistyped_option_of_a_sqlite_url_is_still_named_as_an_option(tmp_path: Path) -> None:
    done = run_cli("runs", "list", "--store", "sqlite:///runs.db?sync", cwd=tmp_path)
    assert done.returncode == 2
    assert "unknown option 'sync' in SQLite URL" in done.stderr


@pytest.mark.parametrize("quoted", ['"sqlite:///runs.db"', "'sqlite:///runs.db'"])
def test_a_store_url_in_quotes_says_to_remove_them(tmp_path: Path, quoted: str) -> None:
    """`ORCHESTRATEX_STORE_URL="sqlite:///runs.db"` in a file given to `docker --env-file` (or systemd's
    `EnvironmentFile=`), which keep the quotes, was refused as `has no scheme`, which the value plainly has."""
    done = run_cli("runs", "list", env=cli_env(ORCHESTRATEX_STORE_URL=quoted), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"orchestratex: error: store URL {quoted!r} is in quotes: remove them, they are not part of the URL "
        "(the store URL of ORCHESTRATEX_STORE_URL)"
    ]


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="runs the command as a user id the system does not know: needs root and util-linux's setpriv",
)
def test_no_home_directory_for_the_default_store_says_what_to_set(tmp_path: Path) -> None:
    """A container run with `--user 4242` and no HOME (a user id the system does not know): the default store's
    folder could not be found and `orchestratex run` printed platformdirs' RuntimeError as a traceback."""
    env = {k: v for k, v in cli_env().items() if k not in ("HOME", "XDG_DATA_HOME")}
    unknown = ["setpriv", "--reuid=4242", "--regid=4242", "--clear-groups"]
    done = subprocess.run(
        [*unknown, *CLI, "run", "Hello there"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done
    assert "set ORCHESTRATEX_STORE_URL" in done.stderr and "--store" in done.stderr
    given = subprocess.run(
        [*unknown, *CLI, "run", "Hello there", "--store", "memory://"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert given.returncode == 0, given


def test_a_migration_the_command_waits_on_is_said_without_verbose(tmp_path: Path) -> None:
    """Opening a SQLite file of an older schema migrates it (minutes for a large one): `runs list` sat silent all
    that time, as the command shows only errors without `-v`. The migration's lines are now shown; other warnings
    still are not."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(V1_DDL)
    conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.close()
    done = run_cli("runs", "list", "--store", f"sqlite:///{path}", cwd=tmp_path)
    assert done.returncode == 0, done
    (said,) = [line for line in done.stderr.splitlines() if "older schema version" in line]
    assert "WARNING orchestratex.stores.sqlite:" in said and "migrating it to version" in said
    assert "_progress" not in said
    again = run_cli("runs", "list", "--store", f"sqlite:///{path}", cwd=tmp_path)  # (migrated: nothing to say)
    assert again.returncode == 0 and "older schema version" not in again.stderr, again


@pytest.mark.slow
def test_a_busy_store_is_named_in_the_error(tmp_path: Path) -> None:
    """Another process holds the SQLite file's write lock past the busy timeout: the error said "the SQLite database
    is busy" and named no file (the library keeps paths out of errors an API client may read), while the store of a
    command left without --store is out of sight. The command now names it."""
    import asyncio

    from orchestratex.stores import SQLiteStore

    path = tmp_path / "team runs.db"

    async def create() -> None:
        async with SQLiteStore(path):
            pass

    asyncio.run(create())
    url = f"sqlite:///{tmp_path / 'team%20runs.db'}"
    holder = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        holder.execute("BEGIN IMMEDIATE")
        done = run_cli("keys", "create", "alice", env=cli_env(ORCHESTRATEX_STORE_URL=url))
    finally:
        holder.close()
    assert done.returncode == 1 and done.stdout == ""
    *_, said = done.stderr.splitlines()  # (after `waiting for the store …`)
    assert said.startswith("orchestratex: StoreUnavailable: the SQLite database is busy"), done.stderr
    assert said.endswith(f"nothing was written (store {url})"), done.stderr
