"""What `orchestratex run` says when every model failed: the failures themselves, not only their consequence."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestratex.testing.provider_contract import Reply, local_server

from .conftest import cli_env, run_cli

pytest.importorskip("orchestratex_openai")


def test_every_call_a_404_from_a_wrong_base_url_is_said_without_verbose(store_url: str) -> None:
    paths: list[dict[str, Any]] = []

    def not_found(sent: dict[str, Any]) -> Reply:
        paths.append(sent)
        return Reply(404, content=b"404 page not found", headers={"content-type": "text/plain"})

    with local_server(not_found) as base:  # an OpenAI-compatible server, its base URL given without /v1
        env = cli_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=base)
        done = run_cli("run", "What is 6*7?", "--models", "gpt-4.1-mini,gpt-4o", "--store", store_url, env=env)

    assert done.returncode == 1, done.stderr
    assert len(paths) == 2  # one call each: a 404 is not retried
    [failed] = [line for line in done.stdout.splitlines() if line.startswith("✘")]
    assert ": every model failed (2 models); the last failure: openai:" in failed
    assert "ProviderHTTPError: openai error (404)" in failed
    assert f"POST {base}/chat/completions not found: check the base URL" in failed
    assert "no judge is available" not in failed


def test_a_run_whose_judges_all_fail_still_prints_the_answer_it_paid_for(store_url: str) -> None:
    """The model answered; its judge's answer held no score: the run failed, and the live view had shown the first 200
    characters of the answer only (the rest, paid for, was in the store, where `runs show` found it). It now ends
    with the whole answer, as `runs show` titles it."""
    answer = "The answer is 42.\n\n" + "Because six times seven is forty-two. " * 20

    def reply(sent: dict[str, Any]) -> Reply:
        judging = "strict, fair reviewer" in json.dumps(sent["messages"])
        content = "I cannot grade this." if judging else answer
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
        env = cli_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=f"{base}/v1")
        done = run_cli("run", "What is 6*7?", "--models", "gpt-4.1-mini,gpt-4o", "--store", store_url, env=env)

    assert done.returncode == 1, done.stderr
    failed = next(line for line in done.stdout.splitlines() if line.startswith("✘"))
    assert "no judge produced a verdict" in failed
    title, shown = done.stdout.split("\n── answer of #1 by ", 1)[1].split("\n", 1)
    assert title.endswith(" (not judged: the run ended failed) ──"), title
    assert shown == answer.rstrip("\n") + "\n"
