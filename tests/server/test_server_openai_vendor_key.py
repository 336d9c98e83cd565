"""An OpenAI client pointed at the server with its `OPENAI_API_KEY` left as it was (an `sk-…` key) got 401 "unknown API
key (create one with …)", nothing saying the key was OpenAI's; the 401 now says whose key it looks like (never the
key itself)."""

from __future__ import annotations

import pytest
from openai import AuthenticationError, OpenAI

from .conftest import Api


@pytest.mark.parametrize(
    ("key", "whose"),
    [("sk-proj-abcdef0123456789", "an OpenAI"), ("sk-ant-api03-abcdef", "an Anthropic"), ("AIzaSyAbc123", "a Google")],
)
def test_another_service_s_key_is_said_to_be_one(api: Api, key: str, whose: str) -> None:
    client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=api.client, max_retries=0)
    with pytest.raises(AuthenticationError) as refused:
        client.models.list()
    assert refused.value.code == "invalid_api_key"
    assert f"it looks like {whose} API key, not one of this server's (they begin with `ox_`)" in refused.value.message
    assert key not in refused.value.message and key[4:] not in refused.value.message
    plain = api.client.get("/api/models/", headers={"Authorization": f"Bearer {key}"})
    assert plain.status_code == 401 and f"{whose} API key" in plain.json()["detail"]


def test_an_unknown_key_of_this_server_s_form_is_still_unknown(api: Api) -> None:
    client = OpenAI(base_url="http://testserver/v1", api_key="ox_" + "a" * 40, http_client=api.client, max_retries=0)
    with pytest.raises(AuthenticationError) as refused:
        client.models.list()
    assert "unknown API key: this server's store lives in its memory" in refused.value.message  # (as the fixture's)
