"""A `/v1` request body over the server's size limit, as the openai SDK reports it."""

from __future__ import annotations

import openai
import pytest
from fastapi.testclient import TestClient
from openai import OpenAI

from orchestratex.server import ServerSettings, create_app, issue_api_key
from orchestratex.stores import MemoryStore


def test_a_v1_body_over_the_limit_says_so_to_the_sdk() -> None:
    """A conversation over `max_body_bytes` was answered 413 in the API's shape only, `{"detail", "status_code"}`,
    which the openai SDK does not read: it raised `APIStatusError: Error code: 413`, nothing on the limit. The 413
    now carries OpenAI's `error` too (the API's `detail` stays, for other clients)."""
    store = MemoryStore()
    with TestClient(create_app(store, settings=ServerSettings(max_body_bytes=2048))) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        with pytest.raises(openai.APIStatusError) as refused:
            client.chat.completions.create(
                model="orchestratex/auto", messages=[{"role": "user", "content": "long " * 1000}]
            )
        assert refused.value.status_code == 413
        assert "request body too large: the limit is 2048 bytes" in refused.value.message
        assert refused.value.code == "request_too_large"
        assert refused.value.response.json()["detail"].startswith("request body too large")
        other = http.post("/api/sessions/", content=b"x" * 4096, headers={"Authorization": f"Bearer {key}"})
        assert other.status_code == 413 and "error" not in other.json()  # (the spec's routes: their shape only)
