"""`POST /v1/chat/completions/`, the endpoint's URL written with a trailing slash (as tools asking for "the endpoint
URL" are sometimes given it, and as `curl` users copy it), is the endpoint: it was a 307 with no body, which `curl`
shows as nothing at all and which points at `http://` behind a proxy terminating TLS."""

from __future__ import annotations

from .conftest import Api
from .test_server_openai import PROMPT


def test_the_endpoint_with_a_trailing_slash_answers_as_without(api: Api) -> None:
    body = {"model": "orchestratex/fast", "messages": PROMPT}
    r = api.client.post("/v1/chat/completions/", json=body, headers=api.alice, follow_redirects=False)
    assert r.status_code == 200, (r.status_code, r.headers.get("location"), r.text)
    assert r.json()["object"] == "chat.completion" and r.json()["choices"][0]["message"]["content"]
    streamed = api.client.post(
        "/v1/chat/completions/", json={**body, "stream": True}, headers=api.alice, follow_redirects=False
    )
    assert streamed.status_code == 200 and streamed.text.rstrip().endswith("data: [DONE]")
    listed = api.client.get("/v1/chat/completions/", headers=api.alice, follow_redirects=False)  # (a list: not served)
    assert listed.status_code == 405 and "stored chat completions" in listed.json()["error"]["message"]


def test_a_model_url_with_a_trailing_slash_answers_that_model(api: Api) -> None:
    """`GET /v1/models/orchestratex/fast/` (a URL copied with its slash, as the chat endpoint's is taken) answered 404
    "The model `orchestratex/fast/` does not exist", of a model `GET /v1/models` lists."""
    for name in ("orchestratex/fast", "sim:gpt-4.1"):
        r = api.client.get(f"/v1/models/{name}/", headers=api.alice, follow_redirects=False)
        assert r.status_code == 200, (name, r.text)
        assert r.json()["id"] == name and r.json()["object"] == "model"
