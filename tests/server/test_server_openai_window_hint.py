"""A prompt that leaves no room in any window for the answer's default cap: a request without `max_tokens` is answered
in what the window leaves, as OpenAI's API and local servers (vLLM, llama.cpp) answer it (it was refused: a long
prompt to a local model of 4,096 tokens got a 400 where the model itself would have answered); one that sent
`max_tokens` is told to lower it, and a prompt longer than the window itself to shorten it."""

from __future__ import annotations

from typing import Any

import pytest
from openai import BadRequestError, OpenAI

from .conftest import Api


def test_a_request_without_max_tokens_is_answered_in_what_the_window_leaves(api: Api) -> None:
    client = OpenAI(base_url="http://testserver/v1", api_key=api.keys["alice"], http_client=api.client, max_retries=0)
    # 90,000 tokens: haiku's window is 100,000, which leaves 1,000 once a tenth is kept for the estimate's error
    prompt: Any = [{"role": "user", "content": "x" * 360_000}]
    for _ in range(2):  # (a second call on the same client)
        answered = client.chat.completions.create(model="haiku", messages=prompt)
        assert answered.choices[0].message.content
        assert answered.usage is not None and answered.usage.completion_tokens <= 1_000
    with pytest.raises(BadRequestError) as sent:
        client.chat.completions.create(model="haiku", messages=prompt, max_tokens=12_000)
    assert (sent.value.code, sent.value.param) == ("context_length_exceeded", "messages")
    assert sent.value.message.endswith("shorten the prompt, or lower max_tokens")  # (the one it sent: as before)
    longer: Any = [{"role": "user", "content": "x" * 404_000}]  # 101,000 tokens: no room at all
    with pytest.raises(BadRequestError) as refused:
        client.chat.completions.create(model="haiku", messages=longer)
    assert refused.value.code == "context_length_exceeded"
    assert "shorten the prompt" in refused.value.message, refused.value.message
