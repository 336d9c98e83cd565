"""Options that take a named value (`runs list --status`, `serve --log-format`) take it in any case, as `--domain`
and `ORCHESTRATEX_LOG_FORMAT` take theirs: `--status Completed` was refused as an "invalid choice"."""

from __future__ import annotations

import json

import pytest

from .conftest import PROMPT, run_cli


def test_runs_list_takes_a_status_in_any_case(store_url: str) -> None:
    assert run_cli("run", PROMPT, "--max-iterations", "1", "--json", "--store", store_url).returncode == 0
    listed = run_cli("runs", "list", "--status", "Completed", "--json", "--store", store_url)
    assert listed.returncode == 0, listed.stderr
    assert [doc["status"] for doc in json.loads(listed.stdout)] == ["completed"]
    none = run_cli("runs", "list", "--status", "FAILED", "--store", store_url)
    assert none.returncode == 0 and none.stderr.startswith("orchestratex: no orchestrations with status failed in ")
    wrong = run_cli("runs", "list", "--status", "done", "--store", store_url)
    assert wrong.returncode == 2 and "argument --status: invalid choice: 'done'" in wrong.stderr


def test_serve_takes_a_log_format_in_any_case() -> None:
    pytest.importorskip("fastapi")
    # (an address of no machine here: the server does not start, and says so as the format asks, in JSON)
    done = run_cli("serve", "--log-format", "JSON", "--host", "203.0.113.5", "--port", "0", "--store", "memory://")
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.splitlines()
    assert json.loads(line)["message"].startswith("cannot listen on 203.0.113.5")
