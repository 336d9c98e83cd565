"""`orchestratex run --provider openai` stores the restriction with the run: a server resuming it (a `--detach`ed
run, or one whose process crashed) has a catalog and keys of its own, and routed the rest of the run to any provider
it had a key of — a prompt kept away from a provider, sent to it. Real processes, a real OpenAI-compatible server."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
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
