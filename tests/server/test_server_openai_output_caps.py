"""`max_tokens` and `max_completion_tokens` given together: OpenAI refuses the pair; here two different caps are a 400
naming them (one was silently dropped, the answer capped at a limit the caller did not choose), and the same cap
written under both names, as a client writing for old and new servers alike sends it, is taken."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from openai import BadRequestError, OpenAI

from orchestratex.server import create_app, issue_api_key
from orchestratex.stores import MemoryStore

ASK: Any = [{"role": "user", "content": "Name a prime"}]


def test_two_different_output_caps_are_refused_and_the_same_one_twice_is_taken() -> None:
    store = MemoryStore()
    with TestClient(create_app(store)) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        with pytest.raises(BadRequestError) as refused:
            client.chat.completions.create(
                model="orchestratex/fast", messages=ASK, max_tokens=50, max_completion_tokens=2000
            )
        error = refused.value.body
        assert isinstance(error, dict) and error["param"] == "max_tokens" and error["code"] == "invalid_value"
        assert "max_tokens (50) and max_completion_tokens (2000) disagree" in error["message"]
        assert http.portal.call(store.list_sessions, "alice") == []  # type: ignore[union-attr]  # (nothing stored)
        reply = client.chat.completions.create(
            model="orchestratex/fast", messages=ASK, max_tokens=300, max_completion_tokens=300
        )
        assert (reply.model_extra or {})["orchestratex"]["status"] == "completed"
