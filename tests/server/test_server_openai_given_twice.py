"""A `/v1/chat/completions` body that gives a field twice in one object (two fragments of a templated body)."""

from __future__ import annotations

import openai
import pytest
from fastapi.testclient import TestClient
from openai import OpenAI

from orchestratex.server import create_app, issue_api_key
from orchestratex.server._openai_chat import DefaultSessions
from orchestratex.stores import MemoryStore

BODIES = {
    "top level": b'{"model": "orchestratex/auto", "cost_limit": 0.0001,'
    b' "messages": [{"role": "user", "content": "hi"}], "cost_limit": 5}',
    "orchestratex": b'{"model": "orchestratex/auto", "messages": [{"role": "user", "content": "hi"}],'
    b' "orchestratex": {"cost_limit": 0.0001, "cost_limit": 5}}',
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_a_setting_given_twice_is_refused_naming_it(body: bytes) -> None:
    """The last of two values was taken: the budget written first ($0.0001) was dropped without a word and the
    call ran (and paid) under the second. It is now a 400 naming the field, as `/api` refuses such a body."""
    store = MemoryStore()
    with TestClient(create_app(store)) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        with pytest.raises(openai.BadRequestError) as refused:
            client.post(
                "/chat/completions",
                content=body,
                cast_to=object,
                options={"headers": {"Content-Type": "application/json"}},
            )
        assert refused.value.param == "cost_limit" and refused.value.code == "invalid_value"
        assert "'cost_limit' is given more than once" in refused.value.message
        v1_session = DefaultSessions.session_id("alice", 0)  # (nothing ran: the caller's /v1 session was not opened)
        assert http.get(f"/api/sessions/{v1_session}", headers={"Authorization": f"Bearer {key}"}).status_code == 404
