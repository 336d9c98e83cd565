"""`orchestratex serve`'s text log lines (the default): the time, the logger and the level before each message, as
docs/operate.md shows the library's lines."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import httpx
import pytest

from .conftest import run_cli
from .test_serve_json_logs import _serve, _stop

_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def test_every_text_line_names_its_time_logger_and_level(tmp_path: Path) -> None:
    """uvicorn's format (`INFO:     model_call orchestration_id=…`) gave neither the time nor the logger."""
    proc, port, out, err = _serve(tmp_path)
    try:
        key = run_cli("keys", "create", "alice", "--store", f"sqlite:///{tmp_path / 's.db'}").stdout.strip()
        body = {"model": "orchestratex/fast", "messages": [{"role": "user", "content": "hi"}]}
        base = f"http://127.0.0.1:{port}"
        answered = httpx.post(f"{base}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
        assert answered.status_code == 200, answered.text
    finally:
        _stop(proc)
    logged = [line for line in err.read_text().splitlines() if not line.startswith("orchestratex: ")]
    assert logged
    for line in logged:
        assert re.match(rf"{_TIME} [a-z_.]+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) ", line), line
    calls = [line for line in logged if " orchestratex.providers INFO model_call " in line]
    assert len(calls) == 2 and all("role=generate" in c or "role=judge" in c for c in calls)
    assert any(re.fullmatch(rf"{_TIME} uvicorn.error INFO Application startup complete\.", line) for line in logged)
    (chat,) = [line for line in out.read_text().splitlines() if "/v1/chat/completions" in line]
    assert re.fullmatch(
        rf'{_TIME} uvicorn.access INFO 127\.0\.0\.1:\d+ - "POST /v1/chat/completions HTTP/1\.1" 200 OK', chat
    )


_WARNING_SITE = """
import os
import threading
import time
import warnings


def warn_later():
    while not os.path.exists(os.environ["WARN_NOW"]):
        time.sleep(0.05)
    warnings.warn("the exporter's option is deprecated", DeprecationWarning)
    raise RuntimeError("the exporter's connection broke")


threading.Thread(target=warn_later, name="exporter", daemon=True).start()
"""
"""A `sitecustomize` starting a thread (as an OpenTelemetry exporter does) that, once told, warns (shown, as
`-W default` has it), then fails with an exception nobody catches."""


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_python_warning_and_a_threads_exception_are_log_lines_in_both_formats(
    tmp_path: Path, log_format: str
) -> None:
    """Only `--log-format json` sent Python's warnings and a thread's uncaught exception to logging: in the text lines
    a warning was written by Python itself, `path:9: DeprecationWarning: …` and its source line, with no time, logger
    nor level, and so was "Exception in thread …". Both formats now log them (a warning as one line)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_WARNING_SITE, encoding="utf-8")
    flag = tmp_path / "warn-now"
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    proc, _, _, err = _serve(
        tmp_path, "--log-format", log_format, PYTHONPATH=path, PYTHONWARNINGS="default", WARN_NOW=str(flag)
    )
    try:
        flag.touch()
        deadline = time.monotonic() + 30
        while "the exporter's connection broke" not in err.read_text():
            assert time.monotonic() < deadline and proc.poll() is None, err.read_text()
            time.sleep(0.05)
    finally:
        _stop(proc)
    said = f"{site / 'sitecustomize.py'}:11: DeprecationWarning: the exporter's option is deprecated"
    if log_format == "json":
        lines = [json.loads(line) for line in err.read_text().splitlines()]
        (warned,) = [line for line in lines if line["logger"] == "py.warnings"]
        assert (warned["level"], warned["message"]) == ("WARNING", said)
        (thread,) = [line for line in lines if line["logger"] == "py.threading"]
        assert thread["exception"].endswith("RuntimeError: the exporter's connection broke")
        return
    logged = err.read_text().splitlines()
    (warned,) = [line for line in logged if "DeprecationWarning" in line]
    assert re.fullmatch(rf"{_TIME} py\.warnings WARNING {re.escape(said)}", warned), warned
    assert not [line for line in logged if "warnings.warn(" in line]  # (no source line, a line of its own)
    (thread,) = [line for line in logged if "exception in thread exporter" in line]
    assert re.fullmatch(rf"{_TIME} py\.threading ERROR exception in thread exporter", thread), thread
    assert "RuntimeError: the exporter's connection broke" in logged
