"""`orchestratex serve`'s text log lines (the default): the time, the logger and the level before each message, as
docs/operate.md shows the library's lines."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

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
