"""A `/v1` request body over the server's size limit, as the openai SDK reports it."""

from __future__ import annotations

import gzip
import json

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


def test_a_compressed_v1_body_is_refused_saying_so() -> None:
    """A gzip-compressed body (`Content-Encoding: gzip`, as some HTTP clients and proxies send) was answered 400
    `invalid_json`, "the request body is not valid JSON: expected value at line 1 column 1", while `/api` answers
    415 saying the coding is not decoded. `/v1` now answers that 415 too, in OpenAI's shape."""
    store = MemoryStore()
    with TestClient(create_app(store)) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        body = json.dumps({"model": "orchestratex/auto", "messages": [{"role": "user", "content": "hi"}]})
        with pytest.raises(openai.APIStatusError) as refused:
            client.post(
                "/chat/completions",
                content=gzip.compress(body.encode()),
                cast_to=object,
                options={"headers": {"Content-Encoding": "gzip", "Content-Type": "application/json"}},
            )
        assert refused.value.status_code == 415, refused.value.response.text
        assert "'Content-Encoding: gzip', which this server does not decode" in refused.value.message
        assert refused.value.type == "invalid_request_error"
        assert refused.value.response.headers["accept-encoding"] == "identity"


def test_a_v1_body_sent_in_chunks_over_the_limit_says_so_in_openais_shape() -> None:
    """A body without `Content-Length` (sent in chunks: a proxy re-chunking it, a client streaming its upload) is
    counted as it is read, inside the mounted `/v1` app, which had moved the request's root path by then: its 413
    came in the API's shape only, `{"detail", "status_code"}`, which the openai SDK shows as a raw dict. It now
    carries OpenAI's `error`, as a body whose declared length is over the limit does."""
    store = MemoryStore()
    with TestClient(create_app(store, settings=ServerSettings(max_body_bytes=2048))) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        body = json.dumps({"model": "orchestratex/auto", "messages": [{"role": "user", "content": "long " * 1000}]})
        chunks = iter([body[:1000].encode(), body[1000:].encode()])
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        refused = http.post("/v1/chat/completions", content=chunks, headers=headers)
        assert refused.status_code == 413, refused.text
        assert refused.json()["error"]["code"] == "request_too_large", refused.json()
        assert "the limit is 2048 bytes" in refused.json()["error"]["message"]
        other = http.post("/api/sessions/", content=iter([b"x" * 1000, b"x" * 3000]), headers=headers)
        assert other.status_code == 413 and "error" not in other.json()  # (the spec's routes: their shape only)
