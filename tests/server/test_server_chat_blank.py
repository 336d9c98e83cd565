"""`/v1/chat/completions` with earlier messages without text (the empty answer an OpenAI client sends back, an empty
system prompt): answered, those messages left out of the conversation sent to the models and stored."""

from __future__ import annotations

from .conftest import Api
from .test_server_openai import chat, ok, status_of


def test_earlier_messages_without_text_are_left_out(api: Api) -> None:
    messages = [
        {"role": "system", "content": ""},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": None},
        {"role": "assistant", "content": [{"type": "text", "text": " "}]},
        {"role": "user", "content": "Another one?"},
    ]
    r = chat(api, messages=messages)
    doc = status_of(api, ok(r).model_extra["orchestratex"]["orchestration_id"])  # type: ignore[index]
    assert doc["status"] == "completed"
    assert [(m["role"], m["content"]) for m in doc["messages"]] == [
        ("user", "Name a colour."),
        ("user", "Another one?"),
    ]
