"""`orchestratex serve --log-format json` (or `ORCHESTRATEX_LOG_FORMAT=json`): each line it writes is JSON."""

from __future__ import annotations

import json
import re
import resource
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..stores.sqlite_v1 import V1_DDL
from .conftest import CLI, cli_env, run_cli


def _serve(
    tmp_path: Path, *options: str, open_files: int | None = None, **env: str
) -> tuple[subprocess.Popen[bytes], int, Path, Path]:
    """A server on a free port (with `open_files`, under that open-file limit), its stdout and stderr in files;
    returns once it answers."""
    out, err = tmp_path / "out.log", tmp_path / "err.log"
    args = [*CLI, "serve", "--port", "0", "--store", f"sqlite:///{tmp_path / 's.db'}", *options]

    def limit() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(args, stdout=stdout, stderr=stderr, env=cli_env(**env), preexec_fn=limit)
    deadline = time.monotonic() + 60
    while True:
        found = re.search(r"serving http://127\.0\.0\.1:(\d+) ", err.read_text())
        if found:
            try:
                if httpx.get(f"http://127.0.0.1:{found.group(1)}/health", timeout=2).status_code == 200:
                    return proc, int(found.group(1)), out, err
            except httpx.TransportError:
                pass
        assert time.monotonic() < deadline and proc.poll() is None, err.read_text()
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def _lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.split("\n")[:-1]]  # (each line alone: no object spans two)


def test_every_line_of_the_server_is_json_with_the_fields_of_the_text_lines(tmp_path: Path) -> None:
    """Operators shipping logs to Loki, Elasticsearch or Datadog had logfmt lines only; the option wins over the
    variable."""
    proc, port, out, err = _serve(tmp_path, "--log-format", "json", ORCHESTRATEX_LOG_FORMAT="text")
    try:
        key = run_cli("keys", "create", "alice", "--store", f"sqlite:///{tmp_path / 's.db'}").stdout.strip()
        body = {"model": "orchestratex/fast", "messages": [{"role": "user", "content": "hi\u2028there"}]}
        base = f"http://127.0.0.1:{port}"
        answered = httpx.post(f"{base}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
        assert answered.status_code == 200, answered.text
        httpx.get(f"{base}/api/sessions/?token=SECRET-KEY")
    finally:
        _stop(proc)
    errors, access = _lines(err), _lines(out)
    assert errors[0]["logger"] == "orchestratex.server" and errors[0]["message"].startswith("serving http://")
    assert {"Application startup complete.", f"Finished server process [{proc.pid}]"} <= {
        line["message"] for line in errors
    }
    calls = [line for line in errors if line.get("event") == "model_call"]
    assert {call["role"] for call in calls} == {"generate", "judge"}
    for call in calls:
        assert (
            call["level"] == "INFO" and call["logger"] == "orchestratex.providers" and call["message"] == "model_call"
        )
        assert isinstance(call["input_tokens"], int) and isinstance(call["cost_usd"], float) and call["outcome"] == "ok"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", call["time"])
    (stop,) = [line for line in errors if line.get("event") == "stop"]
    assert stop["status"] == "completed" and stop["orchestration_id"] == calls[0]["orchestration_id"]
    chat = next(line for line in access if line["path"] == "/v1/chat/completions")
    assert (chat["logger"], chat["method"], chat["status"]) == ("uvicorn.access", "POST", 200)
    refused = next(line for line in access if line["path"].startswith("/api/sessions/"))
    assert refused["path"] == "/api/sessions/?token=***" and refused["status"] == 401
    assert "SECRET-KEY" not in out.read_text() + err.read_text()


def test_the_variable_chooses_json_and_a_wrong_value_is_one_line(tmp_path: Path) -> None:
    proc, _, _, err = _serve(tmp_path, ORCHESTRATEX_LOG_FORMAT="json")
    _stop(proc)
    assert all(line["level"] == "INFO" for line in _lines(err))
    done = run_cli(
        "serve", "--port", "0", "--store", f"sqlite:///{tmp_path / 't.db'}", env=cli_env(ORCHESTRATEX_LOG_FORMAT="xml")
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "orchestratex: error: ORCHESTRATEX_LOG_FORMAT: Input should be 'text' or 'json', not 'xml'"
    ]
    done = run_cli("serve", "--log-format", "yaml")
    assert done.returncode == 2 and "argument --log-format: invalid choice: 'yaml' (choose from" in done.stderr


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_other_libraries_warnings_are_json_lines_too(tmp_path: Path, log_format: str) -> None:
    """The root logger had no handler: a warning of OpenTelemetry's SDK (here about its sampler's setting, read when
    the first run looks for the tracer provider the environment names), of an exporter whose collector is down or of
    asyncio was written by Python's last resort as a bare line of text among the JSON ones (and with no time, logger
    nor level among the text ones)."""
    proc, port, _, err = _serve(
        tmp_path,
        "--log-format",
        log_format,
        OTEL_PYTHON_TRACER_PROVIDER="sdk_tracer_provider",
        OTEL_TRACES_SAMPLER="parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG="abc",
    )
    try:
        key = run_cli("keys", "create", "alice", "--store", f"sqlite:///{tmp_path / 's.db'}").stdout.strip()
        body = {"model": "orchestratex/fast", "messages": [{"role": "user", "content": "hi"}]}
        answered = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        assert answered.status_code == 200, answered.text
    finally:
        _stop(proc)
    if log_format == "text":
        (said,) = [line for line in err.read_text().splitlines() if "TRACES_SAMPLER_ARG" in line]
        assert re.match(r"\S+Z opentelemetry\.sdk\.trace\.sampling WARNING ", said), said
        return
    lines = _lines(err)  # (each one JSON)
    (sampler,) = [line for line in lines if "TRACES_SAMPLER_ARG" in line["message"]]
    assert (sampler["level"], sampler["logger"]) == ("WARNING", "opentelemetry.sdk.trace.sampling")


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_the_warning_that_connections_were_lowered_to_the_open_file_limit_is_logged(
    tmp_path: Path, log_format: str
) -> None:
    """Under an open-file limit below what 1,000 connections need (`ulimit -n 512`), the server lowers
    `max_connections` and warns, naming `ulimit -n`: the warning was logged before the server's logging was set up,
    to the command's own handler, which shows errors only, and nobody saw it."""
    proc, _, _, err = _serve(tmp_path, "--log-format", log_format, open_files=512)
    _stop(proc)
    if log_format == "json":
        (lowered,) = [line for line in _lines(err) if "max_connections lowered" in line["message"]]
        assert (lowered["level"], lowered["logger"]) == ("WARNING", "orchestratex.server")
        assert lowered["message"] == (
            "max_connections lowered from 1000 to 448 to fit the open-file limit (raise it with `ulimit -n`)"
        )
    else:
        assert " orchestratex.server WARNING max_connections lowered from 1000 to 448" in err.read_text()


def test_a_migration_of_the_database_at_start_up_is_logged(tmp_path: Path) -> None:
    """A SQLite database of an older schema is migrated when the server opens it (minutes for a large one), with a
    warning saying so: under `orchestratex serve` the warning went to the command's own handler, which shows errors
    only, and the server sat silent before its first line."""
    conn = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    conn.executescript(V1_DDL)
    conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.close()
    proc, _, _, err = _serve(tmp_path, "--log-format", "json")
    _stop(proc)
    lines = _lines(err)
    (migrating,) = [line for line in lines if "older schema version" in line["message"]]
    assert (migrating["level"], migrating["logger"]) == ("WARNING", "orchestratex.stores.sqlite")
    assert "migrating it to version" in migrating["message"]
    serving = next(i for i, line in enumerate(lines) if line["message"].startswith("serving http://"))
    assert lines.index(migrating) < serving  # (said while it happens, before the server says it serves)


def test_a_start_that_fails_says_why_in_json_too(tmp_path: Path) -> None:
    """With `--log-format json`, a start refused (a setting, a store URL, a port in use) said why in a line of text,
    `orchestratex: error: …`, the one line a JSON log pipeline then dropped: the reason the server was down."""
    store = f"sqlite:///{tmp_path / 's.db'}"
    cases = [
        (["--log-format", "json"], {"ORCHESTRATEX_RATE_LIMIT": "0"}, 2, "ORCHESTRATEX_RATE_LIMIT: Input should be"),
        ([], {"ORCHESTRATEX_LOG_FORMAT": "json", "ORCHESTRATEX_LOG_CONTENT": "maybe"}, 2, "ORCHESTRATEX_LOG_CONTENT:"),
        (["--log-format", "json", "--store", "mongodb://app:s3cret@[::1/runs"], {}, 2, "invalid store URL"),
    ]
    for options, env, code, said in cases:
        done = subprocess.run(
            [*CLI, "serve", "--port", "0", "--store", store, *options],
            env=cli_env(**env),
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == code, done.stderr
        (line,) = [json.loads(text) for text in done.stderr.decode().splitlines()]
        assert (line["level"], line["logger"]) == ("ERROR", "orchestratex.server") and said in line["message"], line
        assert "s3cret" not in line["message"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = subprocess.run(
            [*CLI, "serve", "--port", port, "--store", store, "--log-format", "json"],
            env=cli_env(),
            capture_output=True,
            timeout=60,
        )
    assert done.returncode == 1
    (line,) = [json.loads(text) for text in done.stderr.decode().splitlines()]
    assert line["level"] == "ERROR" and line["message"].startswith(f"cannot listen on 127.0.0.1:{port}")
    text = subprocess.run(
        [*CLI, "serve", "--port", "0", "--store", store],
        env=cli_env(ORCHESTRATEX_RATE_LIMIT="0"),
        capture_output=True,
        timeout=60,
    )
    assert text.stderr.decode().startswith("orchestratex: error: ORCHESTRATEX_RATE_LIMIT")  # (text as before)


@pytest.mark.parametrize(
    ("options", "env", "said"),
    [
        (["--port", "abc", "--log-format", "json"], {}, "argument --port: 'abc' is not a whole number"),
        (["--port=abc", "--log-f=json"], {}, "argument --port: 'abc' is not a whole number"),
        # (in any case, as `--log-format` takes it: the server's lines were JSON, its usage error text)
        (["--port", "abc", "--log-format", "JSON"], {}, "argument --port: 'abc' is not a whole number"),
        (["--host", "", "--port", "0"], {"ORCHESTRATEX_LOG_FORMAT": "json"}, "argument --host:"),
        (["--bogus", "--log-format", "json"], {}, "unrecognized arguments: --bogus"),
    ],
)
def test_an_option_serve_cannot_read_is_a_json_line_too(options: list[str], env: dict[str, str], said: str) -> None:
    """`orchestratex serve --port abc --log-format json` wrote argparse's text line `orchestratex serve: error: …`:
    the one line saying why the server did not start was the one a JSON log pipeline could not read."""
    done = subprocess.run([*CLI, "serve", *options], env=cli_env(**env), capture_output=True, timeout=60)
    assert done.returncode == 2
    (line,) = [json.loads(text) for text in done.stderr.decode().splitlines()]
    assert (line["level"], line["logger"]) == ("ERROR", "orchestratex.server") and line["message"].startswith(said)


def test_an_option_serve_cannot_read_stays_text_when_the_logs_are_text() -> None:
    done = subprocess.run(
        [*CLI, "serve", "--log-format", "text", "--port", "abc"],
        env=cli_env(ORCHESTRATEX_LOG_FORMAT="json"),  # (the option wins)
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.decode() == "orchestratex serve: error: argument --port: 'abc' is not a whole number\n"


_FAILING_THREAD_SITE = """
import os
import threading
import time


class Leaky:
    def __del__(self):
        raise ValueError("closing a client failed")


def fail_later():
    while not os.path.exists(os.environ["FAIL_NOW"]):
        time.sleep(0.05)
    leaky = Leaky()
    del leaky
    raise RuntimeError("the exporter's connection broke")


threading.Thread(target=fail_later, name="exporter", daemon=True).start()
"""
"""A `sitecustomize` starting a thread (as an OpenTelemetry exporter does) that, once told, drops an object whose
`__del__` raises, then fails with an exception nobody catches."""


def test_an_uncaught_exception_in_a_thread_is_a_json_line(tmp_path: Path) -> None:
    """An exception nobody caught in a thread (an exporter's, a library's) or in a `__del__` was written by Python
    itself, "Exception in thread exporter:" or "Exception ignored in: …" and a traceback: lines of text among the JSON
    ones, which a JSON log pipeline cannot read. They are now ERROR lines with the traceback in `exception`."""
    import os

    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_FAILING_THREAD_SITE, encoding="utf-8")
    flag = tmp_path / "fail-now"
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    proc, _, _, err = _serve(tmp_path, "--log-format", "json", PYTHONPATH=path, FAIL_NOW=str(flag))
    try:
        flag.touch()
        deadline = time.monotonic() + 30
        while "the exporter's connection broke" not in err.read_text():
            assert time.monotonic() < deadline and proc.poll() is None, err.read_text()
            time.sleep(0.05)
    finally:
        _stop(proc)
    lines = _lines(err)  # (each one JSON)
    (thread,) = [line for line in lines if line["logger"] == "py.threading"]
    assert (thread["level"], thread["message"]) == ("ERROR", "exception in thread exporter")
    assert thread["exception"].endswith("RuntimeError: the exporter's connection broke")
    (unraisable,) = [line for line in lines if line["logger"] == "py.unraisable"]
    assert unraisable["message"].startswith("Exception ignored in: <function Leaky.__del__")
    assert unraisable["exception"].endswith("ValueError: closing a client failed")


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_sigterm_while_the_server_starts_says_it_did_not_start(tmp_path: Path, log_format: str) -> None:
    """SIGTERM (a service manager, a container stopping) before uvicorn took the signals — while the store opened (a
    database server that does not answer yet, a migration), here while its catalog file is read from a pipe that
    takes its time — ended the process and not a word in its log, as if it had crashed; Ctrl-C there said
    "interrupted". It now says it was stopped before it served."""
    import os

    catalog = tmp_path / "catalog.toml"
    os.mkfifo(catalog)  # (as ORCHESTRATEX_CATALOG, read once, as the app is made: `--catalog` refuses a pipe)
    err = tmp_path / "err.log"
    args = [*CLI, "serve", "--port", "0", "--store", f"sqlite:///{tmp_path / 's.db'}", "--log-format", log_format]
    with err.open("wb") as stderr:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=stderr,
                                env=cli_env(ORCHESTRATEX_CATALOG=str(catalog)))  # fmt: skip
    deadline = time.monotonic() + 60
    while True:  # (until the server has the pipe open: it then waits for the catalog's text)
        try:
            writer = os.open(catalog, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, err.read_text()
            time.sleep(0.05)
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == -signal.SIGTERM  # (ended by the signal still, as service managers expect)
    finally:
        os.close(writer)
        if proc.poll() is None:  # (a failed wait: not left running for a later test to trip over)
            proc.kill()
            proc.wait()
    said = "stopped by SIGTERM while starting: the server did not start"
    if log_format == "json":
        (line,) = _lines(err)
        assert (line["level"], line["logger"], line["message"]) == ("WARNING", "orchestratex.server", said)
    else:
        assert err.read_text().splitlines() == [f"orchestratex: {said}"]
