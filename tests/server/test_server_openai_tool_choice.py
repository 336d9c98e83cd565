"""`tools` with `tool_choice: "none"`: no tool may be called, so the answer is text, which `/v1` gives (agent frameworks
send their tools on every call and ask for a final answer with `"none"`)."""

from __future__ import annotations

from typing import Any

import pytest
from openai import BadRequestError, OpenAI

from .conftest import Api
from .test_server_openai import PROMPT as _PROMPT

PROMPT: Any = _PROMPT

WEATHER: Any = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


def _client(api: Api) -> OpenAI:
    return OpenAI(base_url="http://testserver/v1", api_key=api.keys["alice"], http_client=api.client, max_retries=0)


def test_tools_with_tool_choice_none_are_answered_in_text(api: Api) -> None:
    client = _client(api)
    done = client.chat.completions.create(
        model="orchestratex/fast", messages=PROMPT, tools=[WEATHER], tool_choice="none", parallel_tool_calls=False
    )
    assert done.choices[0].message.content and not done.choices[0].message.tool_calls
    assert done.choices[0].finish_reason == "stop"
    legacy = client.chat.completions.create(
        model="orchestratex/fast", messages=PROMPT, functions=[WEATHER["function"]], function_call="none"
    )
    assert legacy.choices[0].message.content
    streamed = client.chat.completions.create(
        model="orchestratex/fast", messages=PROMPT, tools=[WEATHER], tool_choice="none", stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)


@pytest.mark.parametrize("choice", [None, "auto", "required"])
def test_tools_that_may_be_called_are_still_refused_naming_tools(api: Api, choice: str | None) -> None:
    extra: Any = {} if choice is None else {"tool_choice": choice}
    with pytest.raises(BadRequestError) as refused:
        _client(api).chat.completions.create(model="orchestratex/fast", messages=PROMPT, tools=[WEATHER], **extra)
    assert (refused.value.code, refused.value.param) == ("unsupported_parameter", "tools")
    assert 'tool_choice: "none"' in refused.value.message


@pytest.mark.parametrize(
    ("param", "extra"),
    [
        ("tool_choice", {"tool_choice": "auto"}),
        ("tool_choice", {"tool_choice": "required"}),
        ("tool_choice", {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}),
        ("parallel_tool_calls", {"parallel_tool_calls": False}),
        ("parallel_tool_calls", {"parallel_tool_calls": True, "tool_choice": "none"}),
    ],
)
def test_tool_choice_or_parallel_tool_calls_without_tools_is_refused_as_openai_refuses_it(
    api: Api, param: str, extra: dict[str, Any]
) -> None:
    """They were accepted and a run paid for, where OpenAI answers 400: a client built against `/v1` then failed on
    OpenAI's API (Swarm sent `parallel_tool_calls` with no tools, and met it there)."""
    with pytest.raises(BadRequestError) as refused:
        _client(api).chat.completions.create(model="orchestratex/fast", messages=PROMPT, **extra)
    assert refused.value.body == {
        "message": f"Invalid value for '{param}': '{param}' is only allowed when 'tools' are specified.",
        "type": "invalid_request_error",
        "param": param,
        "code": "invalid_value",
    }


def test_tool_choice_none_without_tools_is_still_answered(api: Api) -> None:
    done = _client(api).chat.completions.create(model="orchestratex/fast", messages=PROMPT, tool_choice="none")
    assert done.choices[0].message.content
