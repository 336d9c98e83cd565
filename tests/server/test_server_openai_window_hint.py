"""A prompt that leaves no room in any window for the answer's default cap names that cap: a request without
`max_tokens` was told to "lower max_tokens", which it had not sent."""

from __future__ import annotations

from typing import Any

import pytest
from openai import BadRequestError, OpenAI

from .conftest import Api


def test_a_request_without_max_tokens_is_told_the_cap_that_applied(api: Api) -> None:
    client = OpenAI(base_url="http://testserver/v1", api_key=api.keys["alice"], http_client=api.client, max_retries=0)
    prompt: Any = [{"role": "user", "content": "x" * 396_000}]  # 99,000 tokens: haiku's window is 100,000
    with pytest.raises(BadRequestError) as refused:
        client.chat.completions.create(model="haiku", messages=prompt)
    assert (refused.value.code, refused.value.param) == ("context_length_exceeded", "messages")
    assert refused.value.message.endswith(
        "shorten the prompt, or send a smaller max_tokens (none was sent, so the default of 2,048 applied)"
    ), refused.value.message
    answered = client.chat.completions.create(model="haiku", messages=prompt, max_tokens=500)  # (which does fit)
    assert answered.choices[0].message.content
    with pytest.raises(BadRequestError) as sent:
        client.chat.completions.create(model="haiku", messages=prompt, max_tokens=5_000)
    assert sent.value.message.endswith("shorten the prompt, or lower max_tokens")  # (the one it sent: as before)
