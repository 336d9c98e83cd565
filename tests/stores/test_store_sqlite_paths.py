"""SQLite database paths that SQLite misreads: each is refused with one line saying what to change, from the library
and from the CLI (as a process), instead of a traceback, a transient-looking error or a file nobody asked for."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from orchestratex.exceptions import StoreError, StoreUnavailable, UserError
from orchestratex.stores import SQLiteStore

from ..cli.conftest import cli_env, run_cli


@pytest.mark.parametrize(
    ("url", "says"),
    [
        # `ValueError: embedded null byte` traceback from `run`
        (
            "sqlite:///a%00b.db",
            "orchestratex: error: a SQLite database path cannot contain a NUL character: 'a\\x00b.db'",
        ),
        # a database file named `dir` was created, and the run stored in it
        (
            "sqlite:///dir/",
            "orchestratex: error: SQLite database path 'dir/' names a folder: add the file's name (dir/runs.db, say)",
        ),
        # "StoreUnavailable: … unable to open database file", as if it would pass
        ("sqlite:///.", "orchestratex: StoreError: cannot open SQLite database '.': it is a folder; name a file in it"),
    ],
)
def test_a_path_sqlite_misreads_is_refused_in_one_line(tmp_path: Path, url: str, says: str) -> None:
    for args in (("run", "Hello", "--max-iterations", "1"), ("runs", "list"), ("keys", "create", "alice")):
        done = run_cli(*args, "--store", url, cwd=tmp_path)
        assert done.returncode in (1, 2) and done.stdout == "", done
        assert done.stderr.splitlines() == [says], done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_name_too_long_for_the_file_system_is_not_a_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{'x' * 300}.db"  # `runs list` died with `OSError: [Errno 36] File name too long`
    listed = run_cli("runs", "list", "--store", url, cwd=tmp_path)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr
    assert listed.stderr.splitlines() == [
        f"orchestratex: no orchestrations: the store {url} does not exist (yet);"
        " check --store or ORCHESTRATEX_STORE_URL"
    ]
    ran = run_cli("run", "Hello", "--max-iterations", "1", "--store", url, cwd=tmp_path)
    assert ran.returncode == 1 and ran.stderr.endswith("File name too long\n") and "Traceback" not in ran.stderr


@pytest.mark.parametrize(
    ("ddl", "row"), [("schema_version (version INTEGER)", "(3)"), ("schema_version (id INTEGER, applied TEXT)", None)]
)
def test_another_applications_database_with_a_schema_version_table_is_refused(
    tmp_path: Path, ddl: str, row: str | None
) -> None:
    # a `schema_version` table of the application's own (a common name) let the store take the file for its own: it
    # switched it to WAL, then said "its schema version 3 is newer than this OrchestrateX understands: upgrade
    # orchestratex", "no such column: version" or "no such table: sessions"
    import sqlite3

    app = tmp_path / "app.db"
    conn = sqlite3.connect(app)
    conn.execute(f"CREATE TABLE {ddl}")
    if row is not None:
        conn.execute(f"INSERT INTO schema_version VALUES {row}")
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    done = run_cli("runs", "list", "--store", f"sqlite:///{app}")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"orchestratex: StoreError: cannot open SQLite database '{app}': it is another application's database"
        " (tables schema_version, users), not an OrchestrateX store; give the store a file of its own"
    ]
    conn = sqlite3.connect(app)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    conn.close()


@pytest.mark.parametrize("path", ["", "a\x00b.db", "runs/", "/srv/data/"])
def test_the_store_refuses_such_paths_when_made(path: str) -> None:
    with pytest.raises(UserError):
        SQLiteStore(path)


def test_a_folder_is_not_taken_for_a_passing_failure(tmp_path: Path) -> None:
    async def open_it() -> None:
        await SQLiteStore(str(tmp_path)).open()

    with pytest.raises(StoreError, match="it is a folder; name a file in it") as err:
        asyncio.run(open_it())
    assert not isinstance(err.value, StoreUnavailable)


def test_another_applications_database_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    # `runs list --store sqlite:///app.db` (a typo for the store's file) switched the application's database to WAL
    # and added thirteen tables to it; one with a `sessions` table of its own failed "no such column: user_id"
    import sqlite3

    app = tmp_path / "app.db"
    conn = sqlite3.connect(app)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, token TEXT)")
    conn.commit()
    conn.close()
    for args in (("runs", "list"), ("run", "Hello", "--max-iterations", "1"), ("keys", "create", "alice")):
        done = run_cli(*args, "--store", f"sqlite:///{app}")
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.splitlines() == [
            f"orchestratex: StoreError: cannot open SQLite database '{app}': it is another application's database"
            " (tables sessions, users), not an OrchestrateX store; give the store a file of its own"
        ]
    conn = sqlite3.connect(app)
    assert [name for (name,) in conn.execute("SELECT name FROM sqlite_master ORDER BY name")] == ["sessions", "users"]
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    conn.close()


def test_an_empty_database_file_is_made_a_store(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    db.touch()

    async def use() -> None:
        async with SQLiteStore(str(db)) as store:
            assert await store.list_sessions("ada") == []

    asyncio.run(use())


def test_a_tilde_in_a_url_is_refused_with_the_absolute_url(tmp_path: Path) -> None:
    # `--store sqlite:///~/runs.db` (the shell expands no `~` inside a word) made a folder named `~` in the working
    # directory and kept the runs there
    home = tmp_path / "home"
    env_home = {"HOME": str(home)}
    done = run_cli(
        "run", "Hello", "--max-iterations", "1", "--store", "sqlite:///~/runs.db", cwd=tmp_path, env=cli_env(**env_home)
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "orchestratex: error: SQLite URL 'sqlite:///~/runs.db': '~' is not expanded in a URL (it would be a folder"
        f" named '~' here); give the absolute path: sqlite:///{home}/runs.db"
    ]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("folder", ["runs#2", "what?", "100%41"])
def test_the_default_store_works_in_a_data_directory_with_url_characters(tmp_path: Path, folder: str) -> None:
    # with no --store, a data directory holding `#` or `?` made the default URL one the store refused ("unsupported
    # SQLite URL", "unknown option"), and `%41` kept the runs in another folder (`A`)
    data = tmp_path / folder
    env = cli_env(XDG_DATA_HOME=str(data), HOME=str(tmp_path))
    ran = run_cli("run", "Hello", "--max-iterations", "1", "--json", cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr
    assert (data / "orchestratex" / "orchestratex.db").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder]
    listed = run_cli("runs", "list", cwd=tmp_path, env=env)
    assert listed.returncode == 0 and "Hello" in listed.stdout, listed


@pytest.mark.parametrize("url", ["sqlite:///runs.db ", " sqlite:///runs.db", "sqlite:///runs.db\r"])
def test_a_store_url_with_white_space_at_an_end_is_refused(tmp_path: Path, url: str) -> None:
    # `--store 'sqlite:///runs.db '` kept the runs in a file named `runs.db `, not the one `keys create --store
    # sqlite:///runs.db` wrote; with the space first it said the URL was malformed
    ran = run_cli("run", "Hello", "--max-iterations", "1", "--store", url, cwd=tmp_path)
    assert ran.returncode == 2 and ran.stdout == "", ran
    assert ran.stderr.splitlines() == [
        f"orchestratex: error: store URL {url!r} has white space at its start or end (a line of an env file, say):"
        " remove it"
    ]
    assert list(tmp_path.iterdir()) == []
    # the variable drops it, as the server's other ORCHESTRATEX_* settings do (a line of an env file)
    ran = run_cli("run", "Hello", "--max-iterations", "1", cwd=tmp_path, env=cli_env(ORCHESTRATEX_STORE_URL=url))
    assert ran.returncode == 0, ran
    assert (tmp_path / "runs.db").is_file() and not [p for p in tmp_path.iterdir() if p.name.startswith("runs.db ")]


@pytest.mark.parametrize("given", ["~/runs.db", "~", Path("~/data/runs.db")])
def test_a_tilde_in_a_path_is_refused_with_the_expanded_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str | Path
) -> None:
    # `SQLiteStore("~/runs.db")` made a folder named `~` in the working directory and kept the runs there (as the
    # URL `sqlite:///~/runs.db` did before it was refused)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(UserError) as refused:
        SQLiteStore(given)
    expanded = str(tmp_path / "home" / str(given)[2:]) if str(given) != "~" else str(tmp_path / "home")
    assert str(refused.value) == (
        f"SQLite database path {str(given)!r}: '~' is not expanded (it would be a folder named '~' in the working"
        f" directory); give the path expanded: {expanded!r} (os.path.expanduser)"
    )
    assert list(tmp_path.iterdir()) == []
    SQLiteStore(Path(given).expanduser())  # (what to do instead)


def test_a_path_that_is_no_regular_file_is_refused_as_such(tmp_path: Path) -> None:
    # `--store sqlite:////dev/null` (to keep nothing) or a named pipe failed with "StoreUnavailable: ... disk I/O
    # error", an error the orchestrator retries as passing, which reads as a failing disk
    fifo = tmp_path / "runs.fifo"
    os.mkfifo(fifo)
    for path, kind in ((os.devnull, "a character device"), (str(fifo), "a named pipe (FIFO)")):
        done = run_cli("run", "Hello", "--max-iterations", "1", "--store", f"sqlite:///{path}", cwd=tmp_path)
        assert done.returncode == 1 and done.stdout == "", done
        assert done.stderr.splitlines() == [
            f"orchestratex: StoreError: cannot open SQLite database '{path}': it is {kind}, not a regular file; name a"
            " file (memory:// keeps nothing past the process)"
        ]


@pytest.mark.parametrize("given", ["runs.db\n", " runs.db", "runs.db\r\n"])
def test_a_path_with_white_space_at_an_end_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    # `SQLiteStore(Path("db-path.txt").read_text())` kept the runs in a file named `runs.db\n`, beside the `runs.db`
    # every other tool opened
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as refused:
        SQLiteStore(given)
    assert str(refused.value) == (
        f"SQLite database path {given!r} has white space at its start or end (a line read from a file, say): remove"
        " it (a pathlib.Path is taken as it is)"
    )
    assert list(tmp_path.iterdir()) == []


async def test_a_path_that_is_not_a_path_is_refused_not_made_a_file_of_its_repr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `SQLiteStore(os.environ.get("RUNS_DB"))` with the variable unset kept the runs in a file named `None` in the
    # working directory, and a path given as bytes in one named "b'runs.db'"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=r"not NoneType \(leave it out for an in-memory database\)"):
        SQLiteStore(os.environ.get("ORCHESTRATEX_TEST_UNSET_VARIABLE"))  # type: ignore[arg-type]
    with pytest.raises(UserError, match="takes a file's path"):
        SQLiteStore(5)  # type: ignore[arg-type]
    async with SQLiteStore(os.fsencode(tmp_path / "runs.db")) as store:  # type: ignore[arg-type]
        assert store.path == str(tmp_path / "runs.db")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.db"]


@pytest.mark.parametrize("value", ["5", None, True, float("nan"), -1])
def test_a_busy_timeout_that_is_not_a_number_of_seconds_is_refused_by_name(value: object) -> None:
    # a str (read from an environment variable) or None failed with "TypeError: '<=' not supported between instances
    # of 'int' and 'str'", naming neither the argument nor what it takes; True was taken as 1 s
    with pytest.raises(UserError, match=r"^busy_timeout must be between 0 and 3600 seconds, not "):
        SQLiteStore(busy_timeout=value)  # type: ignore[arg-type]


def test_an_environment_variable_left_in_a_url_is_refused_with_the_url_to_write(tmp_path: Path) -> None:
    # `ORCHESTRATEX_STORE_URL=sqlite:///$HOME/ox.db` in a systemd unit or a docker --env-file (neither expands it)
    # made a folder named `$HOME` in the working directory and kept the runs there, as a `~` did before
    home = tmp_path / "home"
    env = cli_env(HOME=str(home), ORCHESTRATEX_STORE_URL="sqlite:///$HOME/ox.db?synchronous=full")
    done = run_cli("run", "Hello", "--max-iterations", "1", cwd=tmp_path, env=env)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "orchestratex: error: SQLite URL 'sqlite:///$HOME/ox.db?synchronous=full': environment variables are not"
        " expanded in a URL (systemd's Environment= and EnvironmentFile=, docker's --env-file leave them as written:"
        f" '$HOME' would be part of the file's path as it is); give the path itself: sqlite:///{home}/ox.db"
        "?synchronous=full (the store URL of ORCHESTRATEX_STORE_URL)"
    ]
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UserError, match=r"'\$\{HOME\}' is not expanded .*os\.path\.expandvars"):
        SQLiteStore("${HOME}/ox.db")
    # a `Path` of such a text (`Path(config.get("db", "$HOME/ox.db"))`) too, as a `Path` starting with `~` is
    with pytest.raises(UserError, match=r"'\$HOME' is not expanded .*os\.path\.expandvars"):
        SQLiteStore(Path("$HOME/ox.db"))
    assert SQLiteStore("price$list.db").path == "price$list.db"  # (no such variable: a file's name)


def test_a_relative_path_from_a_working_directory_deleted_meanwhile_is_one_line(tmp_path: Path) -> None:
    # a terminal left in a folder another process removed (a branch switched, a temporary folder cleaned):
    # `orchestratex run --store sqlite:///runs.db` ended in a "FileNotFoundError" traceback from `os.getcwd()`
    import shlex
    import subprocess

    from ..cli.conftest import CLI

    gone = tmp_path / "gone"
    gone.mkdir()
    command = " ".join(shlex.quote(a) for a in [*CLI, "run", "Hello", "--max-iterations", "1"])
    done = subprocess.run(
        ["sh", "-c", f'cd {shlex.quote(str(gone))} && rmdir "$PWD" && exec {command} --store sqlite:///runs.db'],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 1 and done.stdout == "", done
    assert done.stderr.splitlines() == [
        "orchestratex: StoreError: cannot open SQLite database 'runs.db': it is relative to the working directory,"
        " which no longer exists (deleted since this process entered it): give an absolute path, or run from another"
        " folder"
    ]


def test_a_comment_after_the_store_url_in_an_env_file_is_named(tmp_path: Path) -> None:
    # `ORCHESTRATEX_STORE_URL=sqlite:///runs.db  # the prod store` in a docker --env-file or a systemd
    # EnvironmentFile= (which keep it in the value) was told to write the `#` as %23: doing so made the comment part
    # of the file's name (`runs.db  # the prod store`), a new, empty store
    env = cli_env(ORCHESTRATEX_STORE_URL="sqlite:///runs.db  # the prod store")
    done = run_cli("runs", "list", cwd=tmp_path, env=env)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "orchestratex: error: store URL 'sqlite:///runs.db  # the prod store' has a comment after it"
        " ('# the prod store'), which env files keep in the value (docker's --env-file and systemd's"
        " EnvironmentFile= take no comment after a value): remove it, leaving 'sqlite:///runs.db' (the store URL of"
        " ORCHESTRATEX_STORE_URL)"
    ]
    assert list(tmp_path.iterdir()) == []


async def test_a_relative_path_names_the_file_in_the_working_directory_of_when_the_store_was_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `Orchestrator(store="sqlite:///runs.db")` made in one folder, then `%cd` elsewhere in the notebook before its
    # first run: the runs went to a new `runs.db` in the other folder (the path was resolved when the store opened)
    from orchestratex import Orchestrator, SimulatedProvider

    made_in, moved_to = tmp_path / "project", tmp_path / "elsewhere"
    made_in.mkdir()
    moved_to.mkdir()
    monkeypatch.chdir(made_in)
    orch = Orchestrator(providers=[SimulatedProvider(seed=1, latency_scale=0)], store="sqlite:///runs.db")
    store = SQLiteStore("other.db")
    monkeypatch.chdir(moved_to)
    for _ in range(2):  # (a second run on the same orchestrator)
        result = await orch.run("Write a haiku about the sea", max_iterations=1)
        assert result.status == "completed"
    await orch.aclose()
    async with store:
        pass
    assert sorted(p.name for p in made_in.iterdir() if p.suffix == ".db") == ["other.db", "runs.db"]
    assert list(moved_to.iterdir()) == []
    async with SQLiteStore(made_in / "runs.db") as reopened:
        assert len(await reopened.list_orchestrations()) == 2
