"""A wrong `ORCHESTRATEX_STORE_URL` (set in a shell profile or a container, out of sight) is refused in one line that
names the variable: "store URL 'runs.db' has no scheme" after `orchestratex runs list` named no option. Real
processes."""

from __future__ import annotations

import pytest

from .conftest import cli_env, run_cli

COMMANDS = [["run", "What is 6*7?"], ["runs", "list"], ["runs", "show", "6b14a4419014a4693a7132a3"], ["keys", "list"]]


@pytest.mark.parametrize("args", COMMANDS)
def test_a_bad_url_from_the_variable_names_it(args: list[str]) -> None:
    done = run_cli(*args, env=cli_env(ORCHESTRATEX_STORE_URL="runs.db"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == (
        "orchestratex: error: store URL 'runs.db' has no scheme: use memory://, sqlite:///path.db or mongodb://… "
        "(for the SQLite file runs.db: sqlite:///runs.db) (the store URL of ORCHESTRATEX_STORE_URL)\n"
    )


def test_serve_names_it_too() -> None:
    done = run_cli("serve", "--port", "0", env=cli_env(ORCHESTRATEX_STORE_URL="sqlite:///x.db?foo=1"))
    assert done.returncode == 2, done.stderr
    assert done.stderr.rstrip("\n").endswith("(the store URL of ORCHESTRATEX_STORE_URL)"), done.stderr


def test_the_same_url_given_as_an_option_is_not_said_to_come_from_it() -> None:
    done = run_cli("runs", "list", "--store", "runs.db", env=cli_env(ORCHESTRATEX_STORE_URL="sqlite:///ok.db"))
    assert done.returncode == 2
    assert "ORCHESTRATEX_STORE_URL" not in done.stderr
