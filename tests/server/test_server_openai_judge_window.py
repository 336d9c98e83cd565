"""A conversation every judge's window is too small for (a local judge of 4,096 tokens, a long document to summarise):
the run stops before any call, and `/v1` answers it as OpenAI answers a prompt too long, a 400
`context_length_exceeded` naming `messages`, which clients that shorten a conversation recognise."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from openai import APIError, BadRequestError, OpenAI

from orchestratex import Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.server import create_app, issue_api_key
from orchestratex.stores import MemoryStore

from .conftest import FAST

LONG: Any = [{"role": "user", "content": "Summarise this document:\n" + "The tide rises twice a day. " * 400}]
"""About 11 KB: some 2,800 tokens, more than the judge's window holds with an answer."""


def catalog() -> ModelCatalog:
    return ModelCatalog(
        [
            ModelProfile(name="sim:big", cost_per_1k_tokens=0, context_window=128_000, quality=9),
            ModelProfile(
                name="sim:small", cost_per_1k_tokens=0, context_window=2_048, max_output_tokens=512, quality=5
            ),
        ]
    )


def test_a_prompt_no_judge_can_read_is_a_400_context_length_exceeded(monkeypatch: pytest.MonkeyPatch) -> None:
    """It was a 502 `orchestration_failed` (`server_error`): a server fault to the clients, which retry one (LiteLLM's
    `num_retries`, LangChain's `with_retry`), and no `context_length_exceeded` for those that trim the conversation
    on it (LangChain's `ContextOverflowError`)."""
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    store = MemoryStore()
    with TestClient(
        create_app(store, orchestrator=Orchestrator(store=store, catalog=catalog(), simulate=True))
    ) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        with pytest.raises(BadRequestError) as refused:
            client.chat.completions.create(model="orchestratex/fast", messages=LONG)
        error = refused.value
        assert (error.code, error.param, error.status_code) == ("context_length_exceeded", "messages", 400)
        assert "no judge can read this prompt and its answer" in error.message
        assert error.response.headers["x-should-retry"] == "false"  # (stored: the SDK must not start it again)
        assert isinstance(error.body, dict)
        ran = error.body["orchestratex"]
        assert (ran["status"], ran["iterations"], ran["cost"]) == ("failed", 0, 0.0)  # (no call was made)
        with pytest.raises(APIError) as streamed:
            for _ in client.chat.completions.create(model="orchestratex/fast", messages=LONG, stream=True):
                pass
        assert (streamed.value.code, streamed.value.param) == ("context_length_exceeded", "messages")
        short: Any = [{"role": "user", "content": "Summarise: the tide rises twice a day."}]
        reply = client.chat.completions.create(model="orchestratex/fast", messages=short)
        assert reply.choices[0].message.content


def test_without_max_tokens_the_answer_asked_for_is_one_a_judge_can_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two local models of Ollama's default window (4,096 tokens), each judging the other, as docs/providers/openai.md
    sets them up: with the default cap of 2,048 tokens no judge could read the answer to a prompt of some 1,400 tokens
    (5.5 KB), and every such call was refused. Without `max_tokens`, the answer asked for is now no longer than a judge
    can read; a `max_tokens` the client sends is kept, and refused before anything is stored when no judge can read that
    much (the run stopped at once on it)."""
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    local = ModelCatalog(
        [
            ModelProfile(name="sim:llama3.2", cost_per_1k_tokens=0, context_window=4_096, max_output_tokens=2_048),
            ModelProfile(name="sim:qwen3", cost_per_1k_tokens=0, context_window=4_096, max_output_tokens=2_048),
        ]
    )
    document: Any = [{"role": "user", "content": "Summarise this document:\n" + "The tide rises twice a day. " * 250}]
    store = MemoryStore()
    with TestClient(create_app(store, orchestrator=Orchestrator(store=store, catalog=local, simulate=True))) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        for model in ("orchestratex/fast", "sim:llama3.2"):
            reply = client.chat.completions.create(model=model, messages=document)
            assert reply.choices[0].message.content and reply.model_extra is not None
            assert reply.model_extra["orchestratex"]["score"] is not None  # (judged)
            oid = reply.model_extra["orchestratex"]["orchestration_id"]
            ran = http.get(f"/api/orchestration/status/{oid}", headers={"Authorization": f"Bearer {key}"}).json()
            assert 1 <= ran["settings"]["max_output_tokens"] < 2_048
        runs = len(http.portal.call(store.list_orchestrations))  # type: ignore[union-attr]
        with pytest.raises(BadRequestError) as refused:
            client.chat.completions.create(model="sim:llama3.2", messages=document, max_tokens=2_048)
        assert (refused.value.code, refused.value.param) == ("context_length_exceeded", "messages")
        assert (
            "max_tokens is too large for the judges" in refused.value.message
            and "lower max_tokens" in refused.value.message
        )
        assert len(http.portal.call(store.list_orchestrations)) == runs  # type: ignore[union-attr]  # (nothing stored)
        reply = client.chat.completions.create(model="sim:llama3.2", messages=document, max_tokens=200)
        assert reply.choices[0].message.content


def test_a_model_on_two_endpoints_is_not_counted_as_judging_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same model on a laptop (Ollama's 4,096 tokens) and on a GPU box (32,768), and a local judge of 4,096: a call
    without `max_tokens` asks for an answer the judge can read. The room was reckoned with the GPU's copy judging the
    laptop's, which no run lets happen (a model never judges its own answers): the default cap stayed, and the call
    was refused, "no judge can read this prompt and its answer"."""
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    catalog = ModelCatalog(
        [
            ModelProfile(name="sim:laptop-llama", version="llama3.2", cost_per_1k_tokens=0, context_window=4_096),
            ModelProfile(name="sim:gpu-llama", version="llama3.2", cost_per_1k_tokens=0, context_window=32_768),
            ModelProfile(name="sim:qwen3", cost_per_1k_tokens=0, context_window=4_096, judge_only=True),
        ]
    )
    document: Any = [{"role": "user", "content": "Summarise this document:\n" + "The tide rises twice a day. " * 250}]
    store = MemoryStore()
    with TestClient(create_app(store, orchestrator=Orchestrator(store=store, catalog=catalog, simulate=True))) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        for model in ("sim:laptop-llama", "orchestratex/fast"):
            reply = client.chat.completions.create(model=model, messages=document)
            assert reply.model_extra is not None and reply.model_extra["orchestratex"]["status"] == "completed"
            assert reply.model_extra["orchestratex"]["score"] is not None  # (judged by sim:qwen3)
