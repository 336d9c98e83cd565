"""An OpenAI client given the server's address without `/v1` as its base URL, against `orchestratex serve`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from .server_process import ServerProcess, create_key

PROMPT: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Name a prime"}]


def test_a_base_url_without_v1_is_told_where_the_api_is(tmp_path: Path) -> None:
    """`OpenAI(base_url="http://127.0.0.1:8000")`, the server's address as printed, sent `POST /chat/completions`:
    the 404 said "Not Found", which the SDK showed as "Error code: 404", nothing on what was wrong. It now names the
    base URL to give, in OpenAI's shape for the SDK and with the API's `detail` for any other client."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    with ServerProcess(url, tmp_path) as server:
        client = OpenAI(base_url=server.base_url, api_key=key, max_retries=0)
        wanted = f"set the client's base URL to {server.base_url}/v1"
        calls: dict[str, Callable[[], Any]] = {
            "chat": lambda: client.chat.completions.create(model="orchestratex/auto", messages=PROMPT),
            "models": lambda: client.models.list(),
            "model": lambda: client.models.retrieve("orchestratex/fast"),
        }
        for name, call in calls.items():
            with pytest.raises(openai.NotFoundError) as missed:
                call()
            assert wanted in missed.value.message, (name, missed.value.message)
            assert missed.value.code == "not_found"
        raw = httpx.post(f"{server.base_url}/chat/completions", json={}, headers={"Authorization": f"Bearer {key}"})
        assert raw.status_code == 404 and raw.json()["status_code"] == 404 and wanted in raw.json()["detail"]
        other = httpx.get(f"{server.base_url}/nothing/here")  # (any other unknown URL: the API's 404 as before)
        assert other.status_code == 404 and other.json() == {"detail": "Not Found", "status_code": 404}
        answer = OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0).chat.completions.create(
            model="orchestratex/fast", messages=PROMPT
        )
        assert answer.choices[0].message.content


def test_a_base_url_with_another_prefix_or_an_azure_client_is_told_where_the_api_is(tmp_path: Path) -> None:
    """`OpenAI(base_url="http://host:8000/api")` (the spec's API is there), `…/openai/v1` (as some gateways write
    theirs) and an `AzureOpenAI` client got a bare "Not Found", which the SDK showed as "Error code: 404"."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    with ServerProcess(url, tmp_path) as server:
        wanted = f"set the client's base URL to {server.base_url}/v1"
        clients: dict[str, OpenAI] = {
            "/api": OpenAI(base_url=f"{server.base_url}/api", api_key=key, max_retries=0),
            "/openai/v1": OpenAI(base_url=f"{server.base_url}/openai/v1", api_key=key, max_retries=0),
            "azure": openai.AzureOpenAI(
                azure_endpoint=server.base_url, api_version="2024-06-01", api_key=key, max_retries=0
            ),
        }
        for name, client in clients.items():
            with pytest.raises(openai.NotFoundError) as missed:
                client.chat.completions.create(model="orchestratex/fast", messages=PROMPT)
            assert wanted in missed.value.message and missed.value.code == "not_found", (name, missed.value.message)
        assert "Azure OpenAI's API" in missed.value.message
        with pytest.raises(openai.NotFoundError) as listed:
            clients["/openai/v1"].models.list()
        assert "base URL ends in /openai/v1" in listed.value.message and wanted in listed.value.message


def test_an_azure_client_given_the_v1_base_url_is_told_to_use_an_openai_client(tmp_path: Path) -> None:
    """`AzureOpenAI(base_url="http://host:8000/v1", ...)` sends `POST /v1/deployments/{model}/chat/completions`: it was
    told "the client's base URL ends in /deployments/orchestratex/fast too many; set it to http://host:8000/v1", the
    base URL it already had, so following the advice changed nothing. It is now told the path is Azure's and to use an
    OpenAI client with that base URL."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    with ServerProcess(url, tmp_path) as server:
        azure = openai.AzureOpenAI(
            base_url=f"{server.base_url}/v1", api_version="2024-06-01", api_key=key, max_retries=0
        )
        with pytest.raises(openai.NotFoundError) as missed:
            azure.chat.completions.create(model="orchestratex/fast", messages=PROMPT)
        message = missed.value.message
        assert missed.value.code == "not_found"
        assert "is a path of Azure OpenAI's API" in message and "too many" not in message
        assert f"use an OpenAI client (not AzureOpenAI) with the base URL {server.base_url}/v1:" in message
