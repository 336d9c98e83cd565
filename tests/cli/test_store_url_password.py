"""A store URL's password (`mongodb://app:PASSWORD@db/ox`) is never written by the command: not in `serve`'s log lines,
nor in any message that names the store."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from orchestratex.stores._url import redacted_url

from .conftest import CLI, cli_env, run_cli

SECRET = "s3cret-Pa55"
URL = f"memory://app:{SECRET}@store.example"
"""A URL with a password the command can open (a MongoDB URL would need a server)."""


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_serve_logs_its_store_without_the_password(log_format: str) -> None:
    """`orchestratex serve --store mongodb://app:PASSWORD@db/ox` wrote `serving http://… (store
    mongodb://app:PASSWORD@db/ox, …)` as its first log line, which log pipelines keep."""
    args = [*CLI, "serve", "--port", "0", "--store", URL, "--log-format", log_format]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=cli_env())
    lines = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "Application startup complete" in line or "lives in this process only" in line:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stderr is not None:
            lines += proc.stderr.readlines()
            proc.stderr.close()
    said = "".join(lines)
    assert SECRET not in said
    first = json.loads(lines[0])["message"] if log_format == "json" else lines[0]
    assert "(store memory://app:***@store.example, " in first


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
