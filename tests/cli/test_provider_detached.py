"""`orchestratex run --provider openai` stores the restriction with the run: a server resuming it (a `--detach`ed
run, or one whose process crashed) has a catalog and keys of its own, and routed the rest of the run to any provider
it had a key of — a prompt kept away from a provider, sent to it. Real processes, a real OpenAI-compatible server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from orchestratex.testing.provider_contract import Reply, local_server

from .conftest import CLI, cli_env, stored

pytest.importorskip("orchestratex_openai")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def test_a_detached_run_of_one_provider_keeps_to_it_when_resumed(store_url: str) -> None:
    called, release = threading.Event(), threading.Event()

    def slow(sent: dict[str, Any]) -> Reply:
        called.set()
        release.wait(60)  # the model is still answering when the signal comes
        return Reply(503)

    with local_server(slow) as base:
        env = cli_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=f"{base}/v1", ANTHROPIC_API_KEY="sk-ant-test")
        args = [*CLI, "run", "What is 6*7?", "--provider", "openai", "--detach", "--store", store_url]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            assert called.wait(60), "the run made no call"
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            release.set()
            proc.kill()
    assert proc.returncode == 143 and "is detached" in err, err
    (doc,), resumable = stored(store_url)
    assert resumable == [doc.id]
    models = doc.settings.preferred_models  # what a server resuming it routes among
    assert models and all(name.startswith("openai:") for name in models), models
    assert "openai:gpt-4.1" in models


ANSWER = "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a"
VERDICT = json.dumps({"score": 9, "feedback": "Correct and clear."})


def _openai_answer(sent: dict[str, Any]) -> Reply:
    judging = "ANSWER:" in json.dumps(sent)
    return Reply(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1764000000,
            "model": sent["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": VERDICT if judging else ANSWER},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 60, "completion_tokens": 40, "total_tokens": 100},
        },
    )


def test_a_detached_run_of_one_provider_is_judged_by_it_alone_when_resumed(store_url: str) -> None:
    """Its models were stored with it, its judges not: the server that resumed it, with an Anthropic key of its own,
    sent the prompt and the answer to Anthropic's models to judge."""
    called, release = threading.Event(), threading.Event()
    anthropic_calls: list[dict[str, Any]] = []

    def slow(sent: dict[str, Any]) -> Reply:
        called.set()
        release.wait(60)
        return Reply(503)

    with local_server(slow) as base:
        env = cli_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=f"{base}/v1")
        args = [*CLI, "run", "Write a Python fibonacci function", "--provider", "openai", "--detach"]
        proc = subprocess.Popen([*args, "--store", store_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            assert called.wait(60), "the run made no call"
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            release.set()
            proc.kill()
    assert proc.returncode == 143, err

    def anthropic(sent: dict[str, Any]) -> Reply:
        anthropic_calls.append(sent)
        return Reply(500)

    with local_server(_openai_answer) as openai_base, local_server(anthropic) as anthropic_base:
        env = cli_env(
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=f"{openai_base}/v1",
            ANTHROPIC_API_KEY="sk-ant-test",
            ANTHROPIC_BASE_URL=anthropic_base,
        )
        server = subprocess.Popen(
            [*CLI, "serve", "--port", "0", "--store", store_url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                (doc,), _ = stored(store_url)
                if doc.status not in ("pending", "running"):
                    break
                time.sleep(0.2)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    assert doc.status == "completed", doc
    assert anthropic_calls == []
    judges = [v.judge_model for it in doc.iterations if it.evaluation for v in it.evaluation.verdicts]
    assert judges and all(name.startswith("openai:") for name in judges), judges
