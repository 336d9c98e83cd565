"""A conversation with earlier tool turns (an assistant's `tool_calls`, the `tool` results), as an agent framework
sends it to ask for its final answer under `tool_choice: "none"`: answered in text from the results, as OpenAI
answers it, the pairing of calls and results checked as OpenAI checks it."""

from __future__ import annotations

from typing import Any

import pytest
from openai import BadRequestError, OpenAI

from .conftest import Api

WEATHER: Any = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
ASKED: Any = {"role": "user", "content": "What is the weather in Paris and in Oslo?"}


def _call(call_id: str, city: str) -> dict[str, Any]:
    arguments = f'{{"city": "{city}"}}'
    return {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": arguments}}


CALLED: Any = {"role": "assistant", "content": None, "tool_calls": [_call("call_1", "Paris"), _call("call_2", "Oslo")]}
RESULTS: Any = [
    {"role": "tool", "tool_call_id": "call_1", "content": "Paris: 21 °C, sunny"},
    {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "Oslo: 9 °C, rain"}]},
]


def _client(api: Api) -> OpenAI:
    return OpenAI(base_url="http://testserver/v1", api_key=api.keys["alice"], http_client=api.client, max_retries=0)


def _sent(api: Api, oid: str) -> list[dict[str, Any]]:
    r = api.client.get(f"/api/orchestration/status/{oid}", headers=api.alice)
    assert r.status_code == 200, r.text
    return r.json()["messages"]  # type: ignore[no-any-return]


def test_the_final_answer_after_tool_calls_is_given_from_their_results(api: Api) -> None:
    client = _client(api)
    done = client.chat.completions.create(
        model="orchestratex/fast", messages=[ASKED, CALLED, *RESULTS], tools=[WEATHER], tool_choice="none"
    )
    assert done.choices[0].message.content and not done.choices[0].message.tool_calls
    sent = _sent(api, done.model_extra["orchestratex"]["orchestration_id"])  # type: ignore[index]
    assert [m["role"] for m in sent] == ["user", "assistant", "user", "user"]
    assert 'get_weather with {"city": "Paris"} (tool call call_1)' in sent[1]["content"]
    assert sent[2]["content"].endswith("Paris: 21 °C, sunny") and "call_1" in sent[2]["content"]
    assert sent[3]["content"].endswith("Oslo: 9 °C, rain")
    # without the tools offered (they are done with), and with a user turn after the results, streamed
    streamed = client.chat.completions.create(
        model="orchestratex/fast",
        messages=[ASKED, CALLED, *RESULTS, {"role": "user", "content": "Which city is warmer?"}],
        stream=True,
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)


def test_the_legacy_function_call_and_its_result_are_read_too(api: Api) -> None:
    called: Any = {"role": "assistant", "content": "Let me look.", "function_call": _call("x", "Rome")["function"]}
    result: Any = {"role": "function", "name": "get_weather", "content": "Rome: 25 °C"}
    done = _client(api).chat.completions.create(
        model="orchestratex/fast",
        messages=[ASKED, called, result],
        functions=[WEATHER["function"]],
        function_call="none",
    )
    sent = _sent(api, done.model_extra["orchestratex"]["orchestration_id"])  # type: ignore[index]
    assert sent[1]["content"].startswith("Let me look.\n") and "get_weather" in sent[1]["content"]
    assert sent[2] == {"role": "user", "content": "[result of the function get_weather]\nRome: 25 °C"}


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([ASKED, {"role": "tool", "tool_call_id": "call_1", "content": "x"}], "messages.1.role"),  # answers no call
        ([ASKED, CALLED, {**RESULTS[0], "tool_call_id": "call_9"}], "messages.2.role"),
        ([ASKED, CALLED, RESULTS[0]], "messages.1.tool_calls"),  # call_2 not answered
        ([ASKED, CALLED, ASKED], "messages.1.tool_calls"),
        ([ASKED, {**CALLED, "tool_calls": [{"id": "c"}]}, *RESULTS], "messages.1.tool_calls.0.function"),
        ([{**ASKED, "tool_calls": [_call("call_1", "Paris")]}], "messages.0.tool_calls"),
        (  # arguments as an object, not JSON text: OpenAI refuses it (it was sent to the models as a Python repr)
            [ASKED, {**CALLED, "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {"a": 1}}}]}],
            "messages.1.tool_calls.0.function.arguments",
        ),
    ],
)
def test_tool_turns_that_do_not_pair_are_refused_naming_the_message(api: Api, messages: Any, param: str) -> None:
    with pytest.raises(BadRequestError) as refused:
        _client(api).chat.completions.create(model="orchestratex/fast", messages=messages)
    assert (refused.value.code, refused.value.param) == ("invalid_value", param), refused.value.message


def test_a_tool_result_sent_twice_is_said_to_be_so(api: Api) -> None:
    """An agent that ran a tool again and kept both results sends two tool messages of one call: the second was
    refused as answering "no such tool call: 'call_1'", though call_1 is the first call of the message before."""
    with pytest.raises(BadRequestError) as refused:
        _client(api).chat.completions.create(model="orchestratex/fast", messages=[ASKED, CALLED, *RESULTS, RESULTS[0]])
    error = refused.value
    assert (error.code, error.param) == ("invalid_value", "messages.4.role")
    assert "tool call 'call_1' is answered already, by messages.2: send one result per tool call" in error.message
