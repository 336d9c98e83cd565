"""`orchestratex run` stores its orchestrations under the login name (`USER`), or `local` where that is unset or
could not be a user id: an empty `USER` made every run fail ("user_id must not be empty"), and one holding a `/`
was stored under a user the server's API can never name."""

from __future__ import annotations

import json

import pytest

from orchestratex.cli._run import local_user

from .conftest import cli_env, run_cli


@pytest.mark.parametrize(
    ("login", "user_id"),
    [
        ("alice", "alice"),
        ("", "local"),
        ("   ", "local"),
        ("a/b", "local"),
        (" bob", "local"),
        ("al\u200bice", "local"),
        ("u" * 200, "u" * 200),
        ("u" * 201, "local"),  # (stored under it: the server's user routes take at most 200 characters)
    ],
)
def test_a_run_is_stored_under_the_login_name_or_local(login: str, user_id: str, store_url: str) -> None:
    done = run_cli("run", "hi", "--max-iterations", "1", "--json", "--store", store_url, env=cli_env(USER=login))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["user_id"] == user_id


def test_without_user_the_run_is_locals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("USER", raising=False)
    assert local_user() == "local"
    monkeypatch.setenv("USER", "..")
    assert local_user() == "local"


def test_the_longest_user_id_is_the_servers() -> None:
    from orchestratex.cli._run import MAX_USER_ID_CHARS
    from orchestratex.server._users import MAX_USER_ID_CHARS as SERVERS

    assert MAX_USER_ID_CHARS == SERVERS
