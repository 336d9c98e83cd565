"""A stdout whose encoding cannot write every character (`PYTHONIOENCODING=latin-1`, an ISO-8859 locale, a Windows
code page when redirected): the command still works, writing what it cannot encode as `\\u` escapes."""

from __future__ import annotations

import json

import pytest

from .conftest import cli_env, run_cli

PROMPT = "Explain the snowman ☃ in “quotes”"


@pytest.mark.parametrize("encoding", ["latin-1", "ascii"])
def test_every_command_works_on_a_stdout_that_cannot_write_unicode(store_url: str, encoding: str) -> None:
    env = cli_env(PYTHONIOENCODING=encoding)
    ran = run_cli("run", PROMPT, "--max-iterations", "1", "--store", store_url, env=env, encoding=encoding)
    assert ran.returncode == 0 and "Traceback" not in ran.stderr, ran.stderr
    assert "\\u25b6 started" in ran.stdout and "\\u2603" in ran.stdout  # (▶ and the prompt's ☃, escaped)
    as_json = run_cli("run", PROMPT, "--max-iterations", "1", "--json", "--store", store_url, env=env)
    assert as_json.returncode == 0, as_json.stderr
    doc = json.loads(as_json.stdout)  # (ASCII escapes: the same text once read)
    assert doc["prompt"] == PROMPT
    shown = (["runs", "list"], ["runs", "list", "--json"], ["runs", "show", doc["_id"]], ["models"], ["run", "--help"])
    for args in shown:
        store = ["--store", store_url] if args[0] == "runs" else []
        done = run_cli(*args, *store, env=env, encoding=encoding)
        assert done.returncode == 0 and done.stderr == "", (args, done.stderr)
    listed = json.loads(run_cli("runs", "list", "--json", "--store", store_url, env=env).stdout)
    assert listed[0]["prompt"] == PROMPT
