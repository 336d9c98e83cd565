"""A blank `--store`, `--catalog` or `--host` (`--store "$UNSET_VARIABLE"`) is refused, never taken as the default:
left out, each of these options has a default, and a blank value quietly meant it (a key created in the default
store rather than the server's, a run stored where `runs list --store ...` never looks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestratex.cli._options import given

from .conftest import cli_env, run_cli


@pytest.mark.parametrize(
    ("args", "option", "what"),
    [
        (["run", "hi", "--store", ""], "--store", "give a store URL"),
        (["run", "hi", "--catalog", " "], "--catalog", "give a catalog file's path"),
        (["keys", "create", "bob", "--store", ""], "--store", "give a store URL"),
        (["keys", "list", "--store", ""], "--store", "give a store URL"),
        (["keys", "revoke", "k1", "--store", ""], "--store", "give a store URL"),
        (["runs", "list", "--store", ""], "--store", "give a store URL"),
        (["runs", "show", "x", "--store", "  "], "--store", "give a store URL"),
        (["models", "--catalog", ""], "--catalog", "give a catalog file's path"),
        (["serve", "--store", ""], "--store", "give a store URL"),
        (["serve", "--catalog", ""], "--catalog", "give a catalog file's path"),
        (["serve", "--host", "", "--port", "0"], "--host", "give an address of this machine"),
        # (`runs list --user "$NAME"` with NAME unset said "no orchestrations of user ''" and exited 0: none, it seemed)
        (["runs", "list", "--user", ""], "--user", "give a user id"),
        (["keys", "list", "--user", " "], "--user", "give a user id"),
    ],
)
def test_a_blank_option_is_refused_and_nothing_is_written(
    args: list[str], option: str, what: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    done = run_cli(*args, env=cli_env(XDG_DATA_HOME=str(data), HOME=str(tmp_path)))
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert f"error: argument {option}: is empty: {what}" in line, line
    assert "leave the option out for its default" in line
    assert done.stdout == ""
    assert not data.exists()  # the default store was not created (nor written)


def test_a_value_with_text_is_kept_as_given() -> None:
    assert given("a store URL")(" sqlite:///x.db") == " sqlite:///x.db"


@pytest.mark.parametrize(
    ("url", "what"), [("sqlite:///", "names no file"), ("sqlite:/runs.db", "unsupported SQLite URL")]
)
def test_a_sqlite_url_naming_no_file_or_an_unclear_one_is_refused(url: str, what: str, tmp_path: Path) -> None:
    """`--store sqlite:///$UNSET` was a database in memory, gone when the command ended; `sqlite:/runs.db` meant
    `./runs.db` although it reads as `/runs.db`."""
    done = run_cli("run", "hi", "--store", url, cwd=tmp_path, env=cli_env(HOME=str(tmp_path)))
    assert done.returncode != 0 and what in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written in the working directory


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["runs", "show", ""],
            "orchestratex runs show: error: argument id: is empty: give an orchestration's id, as `orchestratex runs"
            " list` shows it",
        ),
        (
            ["keys", "revoke", " "],
            "orchestratex keys revoke: error: argument key_id: is empty: give a key's id, as `orchestratex keys list`"
            " shows it (or the key itself, ox_…)",
        ),
    ],
)
def test_a_blank_id_is_refused_as_blank(args: list[str], line: str, tmp_path: Path) -> None:
    """`runs show "$ID"` with ID unset said "no orchestration '' in sqlite:///…" (or that the store did not exist), as
    if a run had been lost, and `keys revoke ""` "no API key ''"."""
    data = tmp_path / "data"
    done = run_cli(*args, env=cli_env(XDG_DATA_HOME=str(data), HOME=str(tmp_path)))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [line]
    assert not data.exists()
