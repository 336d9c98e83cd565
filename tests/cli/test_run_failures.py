"""What `orchestratex run` says when every model failed: the failures themselves, not only their consequence."""

from __future__ import annotations

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
