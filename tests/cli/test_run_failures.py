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


def _refused(paths: list[str]) -> Any:
    def refuse(sent: dict[str, Any]) -> Reply:
        paths.append(sent["model"])
        return Reply(
            401,
            json={
                "error": {
                    "message": "Incorrect API key provided: sk-wrong. You can find your API key at "
                    "https://platform.openai.com/account/api-keys.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
        )

    return refuse


def test_a_wrong_openai_key_is_refused_once_and_said(store_url: str) -> None:
    """Each of the catalog's OpenAI models was asked in turn, each answering the same 401."""
    asked: list[str] = []
    with local_server(_refused(asked)) as base:
        env = cli_env(OPENAI_API_KEY="sk-wrong", OPENAI_BASE_URL=f"{base}/v1")
        done = run_cli("run", "What is 6*7?", "--provider", "openai", "--store", store_url, env=env)
    assert done.returncode == 1, done.stderr
    assert len(asked) == 1
    [failed] = [line for line in done.stdout.splitlines() if line.startswith("✘")]
    assert ": 1 model failed in this run; the other models of a provider that rejected the API key were not asked" in (
        failed
    )
    assert "AuthenticationError: openai rejected the API key (401): Incorrect API key provided: " in failed
    assert failed.endswith("; set OPENAI_API_KEY to a valid key")


def test_a_wrong_openai_key_leaves_anthropic_to_answer_and_judge(store_url: str) -> None:
    pytest.importorskip("orchestratex_anthropic")
    asked: list[str] = []

    def anthropic(sent: dict[str, Any]) -> Reply:
        judging = "strict, fair reviewer" in json.dumps(sent)
        text = '{"score": 9, "feedback": "right"}' if judging else "6*7 is 42."
        return Reply(
            json={
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": sent["model"],
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 5},
            }
        )

    with local_server(_refused(asked)) as openai, local_server(anthropic) as claude:
        env = cli_env(
            OPENAI_API_KEY="sk-wrong",
            OPENAI_BASE_URL=f"{openai}/v1",
            ANTHROPIC_API_KEY="sk-ant",
            ANTHROPIC_BASE_URL=claude,
        )
        done = run_cli("run", "What is 6*7?", "--provider", "openai,anthropic", "--json", "--store", store_url, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "completed" and result["final_model"].startswith("anthropic:")
    assert len(asked) <= 1  # (the router may pick Anthropic first: then OpenAI is never asked)
