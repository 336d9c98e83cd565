"""A message's `name` (OpenAI's participant name, "to differentiate between participants of the same role") reaches
the models: a group chat's speakers, a few-shot example's `example_user`."""

from __future__ import annotations

from typing import Any

from openai import OpenAI

from .conftest import Api


def _client(api: Api) -> OpenAI:
    return OpenAI(base_url="http://testserver/v1", api_key=api.keys["alice"], http_client=api.client, max_retries=0)


def _sent(api: Api, oid: str) -> list[dict[str, Any]]:
    r = api.client.get(f"/api/orchestration/status/{oid}", headers=api.alice)
    assert r.status_code == 200, r.text
    return r.json()["messages"]  # type: ignore[no-any-return]


def test_the_speakers_of_a_group_chat_are_told_apart(api: Api) -> None:
    messages: Any = [
        {"role": "system", "content": "You moderate a chat between several people."},
        {"role": "user", "name": "alice", "content": "I think the meeting is on Monday."},
        {"role": "user", "name": "bob", "content": [{"type": "text", "text": "No, it is on Tuesday."}]},
        {"role": "assistant", "name": "moderator", "content": "Let me check the calendar."},
        {"role": "user", "name": "alice", "content": "Who said Tuesday?"},
    ]
    done = _client(api).chat.completions.create(model="orchestratex/fast", messages=messages)
    sent = _sent(api, done.model_extra["orchestratex"]["orchestration_id"])  # type: ignore[index]
    assert [m["content"] for m in sent] == [
        "You moderate a chat between several people.",
        "alice: I think the meeting is on Monday.",
        "bob: No, it is on Tuesday.",
        "moderator: Let me check the calendar.",
        "alice: Who said Tuesday?",
    ]


def test_streamed_too_and_a_message_without_name_is_as_it_was(api: Api) -> None:
    messages: Any = [
        {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
        {
            "role": "system",
            "name": "example_assistant",
            "content": "Things working well together will increase revenue.",
        },
        {"role": "user", "content": "Let's circle back when we have more bandwidth.", "name": "  "},
    ]
    chunks = list(_client(api).chat.completions.create(model="orchestratex/fast", messages=messages, stream=True))
    oid = next(ext["orchestration_id"] for c in chunks if (ext := (c.model_extra or {}).get("orchestratex")))
    sent = _sent(api, oid)
    assert [m["content"] for m in sent] == [
        "example_user: New synergies will help drive top-line growth.",
        "example_assistant: Things working well together will increase revenue.",
        "Let's circle back when we have more bandwidth.",
    ]
