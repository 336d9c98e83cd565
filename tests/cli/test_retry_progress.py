"""A call retried after a 429 says so while it waits (its `Retry-After` may be tens of seconds): on the spinner, and
with `-v` in a log line; the spinner said "is answering…" all along. Real processes, a real HTTP server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from orchestratex.testing.provider_contract import Reply, local_server

from .conftest import CLI, cli_env, read_terminal, run_cli, screen_lines

pytest.importorskip("orchestratex_openai")

ARGS = ["run", "What is 6*7?", "--provider", "openai", "--models", "gpt-4.1-mini"]


def _limited(first: int) -> Any:
    """Answers 429 (`Retry-After: 1`) to the first `first` generations, then answers them; judges answer 9/10."""
    seen = {"generations": 0}

    def answer(sent: dict[str, Any]) -> Reply:
        judging = "score" in json.dumps(sent["messages"])
        if not judging:
            seen["generations"] += 1
            if seen["generations"] <= first:
                error = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}
                return Reply(429, json=error, headers={"retry-after": "1"})
        content = json.dumps({"score": 9, "feedback": "right"}) if judging else "42"
        choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        return Reply(json={"id": "c", "object": "chat.completion", "created": 1, "model": sent["model"],
                           "choices": [choice], "usage": usage})  # fmt: skip

    return answer


def test_verbose_says_each_retry_and_its_wait(store_url: str) -> None:
    with local_server(_limited(2)) as base:
        env = cli_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=f"{base}/v1")
        done = run_cli(*ARGS, "--json", "-v", "--store", store_url, env=env)
    assert done.returncode == 0, done.stderr
    retries = [line for line in done.stderr.splitlines() if "retrying in" in line]
    assert len(retries) == 2, done.stderr  # (none after the last attempt: a third would be no retry)
    assert "openai:gpt-4.1-mini failed (RateLimited); retrying in 1.0 s (attempt 2 of 3)" in retries[0]
    assert "retry_in_s=1 attempt=2" in retries[0]


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX pseudo-terminal")
def test_the_spinner_counts_down_the_wait_for_a_retry(store_url: str) -> None:
    import pty

    with local_server(_limited(1)) as base:
        env = cli_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=f"{base}/v1")
        primary, secondary = pty.openpty()  # stderr on a terminal: the spinner shows there under --json
        proc = subprocess.Popen(
            [*CLI, *ARGS, "--json", "--store", store_url], stdout=subprocess.PIPE, stderr=secondary, env=env
        )
        os.close(secondary)
        screen = read_terminal(primary)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert json.loads(out)["status"] == "completed"
    shown = screen_lines(screen)
    assert any("openai:gpt-4.1-mini failed (RateLimited); retrying in 1 s…" in line for line in shown), shown
