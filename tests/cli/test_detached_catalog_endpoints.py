"""`orchestratex run --catalog FILE --provider ollama --detach`, interrupted, names the server that resumes it: that
server builds every endpoint of the file, and one the run left out whose key is unset made it refuse the file
("provider 'openrouter' of models.toml needs an API key"), so the command named never resumed the run. It now says
what that server needs, and the command so completed resumes the run. Real processes, a real OpenAI-compatible HTTP
server."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from orchestratex.testing.provider_contract import Reply, local_server

from .conftest import CLI, cli_env, stored

pytest.importorskip("orchestratex_openai")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

CATALOG = """
include_default = false

[providers.ollama]
kind = "openai"
base_url = "{base}/v1"

[providers.openrouter]
kind = "openai"
base_url = "{base}/v1"
api_key_env = "OPENROUTER_API_KEY"

[[models]]
name = "ollama:llama3.2"
cost_per_1k_tokens = 0

[[models]]
name = "ollama:qwen2.5"
cost_per_1k_tokens = 0

[[models]]
name = "openrouter:meta-llama/llama-3.3-70b-instruct"
input_cost_per_1k = 0.00013
output_cost_per_1k = 0.0004
"""


def test_the_server_named_to_resume_a_detached_run_is_one_that_starts(tmp_path: Path, store_url: str) -> None:
    called, release = threading.Event(), threading.Event()

    def reply(sent: dict[str, Any]) -> Reply:
        if not called.is_set():  # the first call is still answering when the signal comes
            called.set()
            release.wait(60)
            return Reply(503)
        judging = "strict, fair reviewer" in json.dumps(sent["messages"])
        content = '{"score": 9, "feedback": "fine"}' if judging else "Hello from a local model."
        return Reply(
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1,
                "model": sent["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
        )

    with local_server(reply) as base:
        catalog = tmp_path / "models.toml"
        catalog.write_text(CATALOG.format(base=base))
        args = ["run", "hi", "--catalog", str(catalog), "--provider", "ollama", "--detach", "--store", store_url]
        proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
        try:
            assert called.wait(60), "the run made no call"
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            release.set()
            proc.kill()
        assert proc.returncode == 143, err
        (doc,), resumable = stored(store_url)
        assert resumable == [doc.id]
        found = re.search(r"a server on this store \(`orchestratex (serve [^`]+)`, with (\w+) set \(([^)]*)\)\)", err)
        assert found is not None, err
        command, variable = shlex.split(found.group(1)), found.group(2)
        assert command == ["serve", "--store", store_url, "--catalog", str(catalog)]
        assert variable == "OPENROUTER_API_KEY"
        assert found.group(3) == f"a server builds every endpoint of {catalog}"

        # the command as said: it starts, and resumes the run
        env = cli_env(OPENROUTER_API_KEY="sk-or-test")
        server = subprocess.Popen(
            [*CLI, *command, "--port", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )
        try:
            assert server.stderr is not None
            first = server.stderr.readline()
            assert first.startswith("orchestratex: serving http://127.0.0.1:"), first + server.stderr.read()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                (doc,), _ = stored(store_url)
                if doc.status not in ("pending", "running"):
                    break
                time.sleep(0.2)
        finally:
            server.send_signal(signal.SIGTERM)
            server.communicate(timeout=60)
    assert doc.status == "completed", doc
    assert doc.final_response == "Hello from a local model."
