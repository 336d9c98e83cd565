"""Every line the server and its runs write about one orchestration carries its id as a field, for the log pipelines
that find lines by field (Loki, Elasticsearch, Datadog: `--log-format json`, or `JsonFormatter` on `orchestratex`)."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from orchestratex import FunctionProvider, Orchestrator, SQLiteStore
from orchestratex.providers import GenerationRequest
from orchestratex.routing import BayesianRouter
from orchestratex.server import ServerSettings, create_app, issue_api_key
from orchestratex.telemetry import JsonFormatter

from ..helpers import NO_WAIT, catalog
from .conftest import bearer, in_app_loop


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def test_the_lines_of_a_run_the_store_stopped_name_it_in_a_field(tmp_path: Path) -> None:
    """While another process held the SQLite file's write lock, the lines saying that a run's commit was retried,
    that its lease could not be given up and that the server's run of it stopped (ERROR) named the orchestration in
    their message only: a pipeline asked for `orchestration_id="…"` showed the run's other lines, not why it stopped."""
    entered, go = threading.Event(), threading.Event()

    async def model(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": 5.0, "feedback": "go on"})
        entered.set()
        while not go.is_set():
            await asyncio.sleep(0.01)
        return "an answer"

    path = tmp_path / "runs.db"
    store = SQLiteStore(path, busy_timeout=0.05)
    orchestrator = Orchestrator(
        providers=[FunctionProvider(model)],
        catalog=catalog("a", "b"),
        retry=NO_WAIT,
        store_retry=NO_WAIT,
        router=BayesianRouter(explore=False),
        store=store,
    )
    lines = _Lines()
    tree = logging.getLogger("orchestratex")
    previous = tree.level
    tree.addHandler(lines)
    tree.setLevel(logging.INFO)
    try:
        with TestClient(create_app(orchestrator=orchestrator, settings=ServerSettings())) as client:
            headers = bearer(in_app_loop(client).call(issue_api_key, store, "alice"))
            session = client.post("/api/sessions/", json={"user_id": "alice"}, headers=headers).json()
            thread = client.post(
                "/api/threads/", json={"session_id": session["_id"], "original_prompt": "p"}, headers=headers
            ).json()
            started = client.post(
                "/api/orchestration/start",
                json={"thread_id": thread["_id"], "prompt": "Write a sort function", "settings": {"max_iterations": 2}},
                headers=headers,
            )
            assert started.status_code == 202, started.text
            oid = started.json()["_id"]
            assert entered.wait(30)
            locker = sqlite3.connect(path, isolation_level=None)  # another process's connection to the file
            locker.execute("BEGIN IMMEDIATE")
            try:
                go.set()
                deadline = time.monotonic() + 30
                while not any(line["message"].startswith(f"orchestration {oid} stopped") for line in lines.lines):
                    assert time.monotonic() < deadline, lines.lines
                    time.sleep(0.05)
            finally:
                locker.execute("ROLLBACK")
                locker.close()
    finally:
        tree.removeHandler(lines)
        tree.setLevel(previous)
    naming = [line for line in lines.lines if oid in line["message"]]
    said = {line["message"].split(":")[0] for line in naming}
    assert {f"committing orchestration {oid} failed (attempt 1 of 3), retrying in 0.00 s"} <= said
    assert any(line["level"] == "ERROR" and line["logger"] == "orchestratex.server" for line in naming)
    for line in naming:
        assert line.get("orchestration_id") == oid, line
    for line in naming:
        if "failed (attempt" in line["message"]:  # (a run's own retries name its session and thread too)
            assert (line["session_id"], line["thread_id"]) == (session["_id"], thread["_id"]), line
