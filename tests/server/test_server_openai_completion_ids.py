"""A chat completion's `id` sent where a `thread_id` (or `session_id`) goes, as a client continuing a conversation
with the answer's id would (the Responses API's `previous_response_id` works so): the 404 says which id to send."""

from __future__ import annotations

from typing import Any

import pytest
from openai import NotFoundError, OpenAI

from .conftest import Api
from .test_server_openai import PROMPT as _PROMPT

PROMPT: Any = _PROMPT


def _client(api: Api, user: str = "alice") -> OpenAI:
    return OpenAI(base_url="http://testserver/v1", api_key=api.keys[user], http_client=api.client, max_retries=0)


@pytest.mark.parametrize("field", ["thread_id", "session_id"])
def test_a_completion_id_where_a_thread_or_session_id_goes_names_the_one_to_send(api: Api, field: str) -> None:
    client = _client(api)
    first = client.chat.completions.create(model="orchestratex/fast", messages=PROMPT)
    wanted = first.model_extra["orchestratex"][field]  # type: ignore[index]
    for given in (first.id, first.id.removeprefix("chatcmpl-")):
        with pytest.raises(NotFoundError) as missing:
            client.chat.completions.create(model="orchestratex/fast", messages=PROMPT, extra_body={field: given})
        assert (missing.value.code, missing.value.param) == ("not_found", field)
        assert f"its {field} is '{wanted}'" in missing.value.message, missing.value.message
    # what it said is what works
    assert client.chat.completions.create(model="orchestratex/fast", messages=PROMPT, extra_body={field: wanted})
    # another user's completion id is not told apart from one that does not exist
    with pytest.raises(NotFoundError) as other:
        _client(api, "bob").chat.completions.create(
            model="orchestratex/fast", messages=PROMPT, extra_body={field: first.id}
        )
    assert "chat completion" not in other.value.message and wanted not in other.value.message
