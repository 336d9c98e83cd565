"""A URL under `/v1` that the server does not serve is answered with what went wrong: the openai SDK shows the 404's
message alone, which was "Unknown request URL: see /v1/chat/completions and /v1/models" for every such URL, so a client
whose base URL names the endpoint was sent to see the path it thought it had used."""

from __future__ import annotations

from typing import Any

import pytest
from openai import APIStatusError, NotFoundError, OpenAI

from .conftest import Api
from .test_server_openai import PROMPT as _PROMPT

PROMPT: Any = _PROMPT


def _client(api: Api, base_url: str) -> OpenAI:
    return OpenAI(base_url=base_url, api_key=api.keys["alice"], http_client=api.client, max_retries=0)


@pytest.mark.parametrize("base", ["http://testserver/v1/chat/completions", "http://testserver/v1/v1"])
def test_a_base_url_with_a_path_too_many_is_told_what_to_write(api: Api, base: str) -> None:
    client = _client(api, base)
    with pytest.raises(NotFoundError) as chat:
        client.chat.completions.create(model="orchestratex/fast", messages=PROMPT)
    assert chat.value.code == "not_found"
    extra = base.removeprefix("http://testserver/v1")
    assert f"base URL ends in {extra} too many; set it to http://testserver/v1 " in chat.value.message
    with pytest.raises(NotFoundError) as models:
        client.models.list()
    assert "set it to http://testserver/v1 (the client adds /models)" in models.value.message
    assert _client(api, "http://testserver/v1").models.list().data  # (the base URL it names works)


def test_an_api_this_server_does_not_serve_is_named(api: Api) -> None:
    client = _client(api, "http://testserver/v1")
    with pytest.raises(NotFoundError) as responses:
        client.responses.create(model="orchestratex/fast", input="hi")
    assert "the Responses API (/v1/responses) is not served here" in responses.value.message
    assert "POST /v1/chat/completions" in responses.value.message
    with pytest.raises(NotFoundError) as embeddings:
        client.embeddings.create(model="orchestratex/fast", input="hi")
    assert "embeddings (/v1/embeddings) is not served here" in embeddings.value.message
    unknown = api.client.post("/v1/nothing-here", headers=api.alice, json={})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"].startswith("Unknown request URL: POST /v1/nothing-here;")


def test_the_stored_chat_completions_api_is_said_not_to_be_served_with_where_the_call_is(api: Api) -> None:
    """`store: true` is accepted and not acted on; asking for the stored completion afterwards was answered "Unknown
    request URL", as if the completion were missing, and listing them "GET is not allowed …: use POST"."""
    client = _client(api, "http://testserver/v1")
    done = client.chat.completions.create(
        model="orchestratex/fast", messages=[{"role": "user", "content": "hi"}], store=True
    )
    oid = done.id.removeprefix("chatcmpl-")
    for call in (
        lambda: client.chat.completions.retrieve(done.id),
        lambda: client.chat.completions.messages.list(done.id),
        lambda: client.chat.completions.delete(done.id),
    ):
        with pytest.raises(NotFoundError) as missing:
            call()
        assert "stored chat completions" in missing.value.message, missing.value.message
        assert f"GET /api/orchestration/status/{oid}" in missing.value.message
    with pytest.raises(APIStatusError) as listed:
        client.chat.completions.list()
    assert listed.value.status_code == 405 and "stored chat completions" in listed.value.message
    assert api.client.get(f"/api/orchestration/status/{oid}", headers=api.alice).json()["final_response"]


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_v1_itself_says_what_is_served_there_rather_than_an_empty_redirect(api: Api, method: str) -> None:
    """`curl host:8000/v1` (the base URL the docs give, opened as it is) answered an empty 307 to `/v1/`, which curl
    shows as nothing and which then answered 404: it now answers that 404 at once, naming what is under /v1."""
    answer = api.client.request(method, "/v1?x=1", headers=api.alice, follow_redirects=False)
    assert (answer.status_code, answer.headers.get("location")) == (404, None)
    if method != "HEAD":
        assert answer.json()["error"] == {
            "message": f"Unknown request URL: {method} /v1; this server serves POST /v1/chat/completions and GET"
            " /v1/models (and /v1/models/{model})",
            "type": "invalid_request_error",
            "param": None,
            "code": "not_found",
        }
