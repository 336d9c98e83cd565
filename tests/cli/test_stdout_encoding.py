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


def test_the_c_locale_without_utf8_mode_takes_utf8_arguments_and_writes_what_it_can(store_url: str) -> None:
    """`LC_ALL=C` with Python's UTF-8 mode off (`PYTHONUTF8=0`): arguments are read as ASCII, stdout is ASCII that
    escapes lone surrogates only. `run "Écris ☃"` was refused as "not valid UTF-8" (it is), and with an ASCII prompt
    the live view printed a traceback for every event and the command ended with one."""
    env = {k: v for k, v in cli_env(PYTHONUTF8="0", PYTHONCOERCECLOCALE="0", LC_ALL="C").items() if k != "LANG"}
    prompt = "Écris un poème ☃"
    as_json = run_cli("run", prompt, "--max-iterations", "1", "--json", "--store", store_url, env=env)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["prompt"] == prompt
    ran = run_cli("run", "Explain DNS", "--max-iterations", "1", "--store", store_url, env=env, encoding="ascii")
    assert ran.returncode == 0 and "Traceback" not in ran.stderr, ran.stderr
    assert "\\u25b6 started" in ran.stdout
    listed = run_cli("runs", "list", "--store", store_url, env=env, encoding="ascii")
    assert listed.returncode == 0 and "\\xc9cris un po\\xe8me \\u2603" in listed.stdout, listed.stderr
    refused = run_cli("run", "hi", "--context", "caf\udce9", "--store", store_url, env=env)  # (a Latin-1 byte)
    assert refused.returncode == 2 and "b'caf\\xe9' is not valid UTF-8" in refused.stderr, refused.stderr
