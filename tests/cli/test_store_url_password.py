"""A store URL's password (`mongodb://app:PASSWORD@db/ox`) is never written by the command: not in `serve`'s log lines,
nor in any message that names the store."""

from __future__ import annotations

import subprocess

import pytest

from orchestratex.stores._url import redacted_url

from .conftest import CLI, cli_env, run_cli

SECRET = "s3cret-Pa55"
URL = f"memory://app:{SECRET}@store.example"
"""A URL with a password that needs no server (a MongoDB URL would)."""


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_serve_refuses_its_store_without_the_password(log_format: str) -> None:
    """`orchestratex serve --store <URL with a password>` wrote the URL whole in its lines, which log pipelines keep
    (the `serving …` line itself, with a MongoDB URL, is tested in adapters/mongodb/tests/test_mongodb_url_in_logs.py;
    this memory URL with a user is refused, as `memory://` takes nothing after its scheme)."""
    args = [*CLI, "serve", "--port", "0", "--store", URL, "--log-format", log_format]
    done = subprocess.run(args, capture_output=True, text=True, env=cli_env(), timeout=60, check=False)
    assert done.returncode == 2
    assert SECRET not in done.stderr + done.stdout
    assert "memory://app:***@store.example" in done.stderr


@pytest.mark.parametrize(
    "args", [("keys", "create", "alice"), ("keys", "list"), ("runs", "list"), ("run", "Hello", "--detach")]
)
def test_messages_naming_the_store_leave_its_password_out(args: tuple[str, ...]) -> None:
    done = run_cli(*args, "--store", URL)
    assert done.returncode == 2
    assert SECRET not in done.stderr + done.stdout
    assert "memory://app:***@store.example" in done.stderr


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mongodb://app:pw@db1,db2:27018/ox?replicaSet=rs", "mongodb://app:***@db1,db2:27018/ox?replicaSet=rs"),
        ("mongodb+srv://app:p%40ss@cluster.example.net/ox", "mongodb+srv://app:***@cluster.example.net/ox"),
        ("mongodb://app@db/ox", "mongodb://app@db/ox"),
        ("sqlite:////tmp/a:b@c.db", "sqlite:////tmp/a:b@c.db"),
        ("sqlite:///runs.db?synchronous=full", "sqlite:///runs.db?synchronous=full"),
    ],
)
def test_redacted_url(url: str, shown: str) -> None:
    assert redacted_url(url) == shown
