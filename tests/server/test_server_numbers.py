"""Numbers of request bodies are JSON numbers: a boolean or a numeric string is refused (pydantic's lax mode read
`true` as 1 and `"0.5"` as 0.5, so `"cost_limit": true` was a $1 budget)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai import BadRequestError, OpenAI
from pydantic import ValidationError

from orchestratex.exceptions import ConfigurationError
from orchestratex.server import Preset
from orchestratex.server._numbers import number_message
from orchestratex.server._openai_presets import parse_presets

from .conftest import Api

PROMPT = [{"role": "user", "content": "Write a Python function to reverse a string"}]


def _nested(path: str, value: Any) -> dict[str, Any]:
    head, _, rest = path.partition(".")
    return {head: _nested(rest, value) if rest else value}


@pytest.mark.parametrize(
    ("route", "path", "value", "message"),
    [
        ("/api/sessions/", "max_iterations", True, "must be a whole number, not the boolean true"),
        ("/api/sessions/", "max_iterations", "3", 'must be a whole number, not the string "3": write the number'),
        ("/api/sessions/", "max_iterations", 3.5, "must be a whole number, not 3.5"),
        ("/api/sessions/", "settings.cost_limit", True, "must be a number, not the boolean true"),
        ("/api/sessions/", "settings.cost_limit", "0.5", 'must be a number, not the string "0.5": write the number'),
        ("/api/orchestration/start", "settings.max_iterations", True, "must be a whole number, not the boolean"),
        ("/api/orchestration/start", "settings.cost_limit", False, "must be a number, not the boolean false"),
        ("/api/orchestration/start", "settings.evaluation_threshold", False, "must be a number, not the boolean"),
        ("/api/orchestration/start", "settings.evaluation_threshold", "8", 'must be a number, not the string "8"'),
    ],
)
def test_rest_refuses_a_boolean_or_a_string_for_a_number_with_422(
    api: Api, route: str, path: str, value: Any, message: str
) -> None:
    body = _nested(path, value)
    if route == "/api/orchestration/start":
        body["thread_id"] = api.thread(api.session()["_id"])["_id"]
    r = api.client.post(route, json=body, headers=api.alice)
    assert r.status_code == 422, r.text
    doc = r.json()
    assert doc["status_code"] == 422
    assert doc["detail"].startswith(f"{path}: {message}"), doc
    assert [e["loc"] for e in doc["errors"]] == [["body", *path.split(".")]]
    if route == "/api/sessions/":  # nothing was created
        assert api.client.get("/api/sessions/user/alice", headers=api.alice).json() == []


@pytest.mark.parametrize(
    ("route", "path"),
    [
        ("/api/sessions/", "max_iterations"),
        ("/api/sessions/", "settings.cost_limit"),
        ("/api/orchestration/start", "settings.max_iterations"),
        ("/api/orchestration/start", "settings.evaluation_threshold"),
        ("/api/orchestration/start", "settings.cost_limit"),
    ],
)
def test_a_string_holding_a_lone_surrogate_for_a_number_is_refused_not_a_500(api: Api, route: str, path: str) -> None:
    # `"\ud800"` in the body (half of an escaped pair: an emoji cut in two by a UTF-16 client): the 422 quoting it
    # could not be encoded, and the answer was a 500 "internal server error" with a traceback in the log; it is now the
    # 400 of a lone surrogate in any other field
    body = _nested(path, "\ud800")
    if route == "/api/orchestration/start":
        body["thread_id"] = api.thread(api.session()["_id"])["_id"]
    headers = {**api.alice, "Content-Type": "application/json"}  # (sent as `json.dumps` writes it: escaped)
    r = api.client.post(route, content=json.dumps(body), headers=headers)
    assert r.status_code == 400, r.text
    assert r.json()["detail"] == (
        f"{path} holds a lone surrogate ('\\ud800' at character 0), which is not text: send valid Unicode (a JSON \\u"
        " escape of a surrogate must be one of a pair)"
    )
    said = number_message({"type": "int_type", "loc": (), "msg": "", "input": "\ud800"})  # (as /v1 says it)
    assert said == 'must be a whole number, not the string "\\ud800": write the number without quotes'
    said.encode()  # (UTF-8 text: the answer can be sent)


def test_rest_still_takes_an_integer_where_a_fraction_may_be(api: Api) -> None:
    session = api.session(max_iterations=2, settings={"cost_limit": 10})
    assert (session["max_iterations"], session["settings"]["cost_limit"]) == (2, 10.0)
    thread = api.thread(session["_id"])
    started = api.start(thread["_id"], settings={"evaluation_threshold": 8, "cost_limit": 1})
    assert started["settings"]["evaluation_threshold"] == 8.0


def refused_v1_field(api: Api, field: str, value: Any, message: str) -> None:
    """`/v1/chat/completions` with `field: value` answers 400 `invalid_value` naming `field`, with `message`."""
    body = {"model": "orchestratex/fast", "messages": PROMPT, field: value}
    r = api.client.post("/v1/chat/completions", json=body, headers=api.alice)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert (err["param"], err["code"], err["type"]) == (field, "invalid_value", "invalid_request_error")
    assert err["message"].startswith(message), err


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_tokens", True, "max_tokens: must be a whole number, not the boolean true"),
        ("max_completion_tokens", "100", 'max_completion_tokens: must be a whole number, not the string "100"'),
        ("n", True, "n: must be a whole number, not the boolean true"),
        ("temperature", True, "temperature: must be a number, not the boolean true"),
        ("temperature", "0.5", 'temperature: must be a number, not the string "0.5": write the number without quotes'),
        ("top_p", False, "top_p: must be a number, not the boolean false"),
        ("seed", True, "seed: must be a whole number, not the boolean true"),
        ("max_iterations", True, "max_iterations: must be a whole number, not the boolean true"),
        ("cost_limit", True, "cost_limit: must be a number, not the boolean true"),
        ("threshold", False, "threshold: must be a number, not the boolean false"),
        ("patience", "2", 'patience: must be a whole number, not the string "2"'),
    ],
)
def test_v1_refuses_a_boolean_or_a_string_for_a_number_with_400(api: Api, field: str, value: Any, message: str) -> None:
    refused_v1_field(api, field, value, message)
    nested = {"model": "orchestratex/fast", "messages": PROMPT, "orchestratex": {field: value}}
    if field in ("max_iterations", "cost_limit", "threshold", "patience"):  # the same in the `orchestratex` object
        r = api.client.post("/v1/chat/completions", json=nested, headers=api.alice)
        assert (r.status_code, r.json()["error"]["param"]) == (400, field)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("stream", "true", 'stream: must be true or false, not the string "true": write the boolean without quotes'),
        ("stream", "false", 'stream: must be true or false, not the string "false"'),
        ("stream", 1, "stream: must be true or false, not the number 1"),
        ("logprobs", "false", 'logprobs: must be true or false, not the string "false"'),
        ("store", "no", 'store: must be true or false, not the string "no"'),
        ("parallel_tool_calls", 0, "parallel_tool_calls: must be true or false, not the number 0"),
        ("stream_events", "true", 'stream_events: must be true or false, not the string "true"'),
    ],
)
def test_v1_refuses_a_string_or_a_number_for_a_boolean_with_400(api: Api, field: str, value: Any, message: str) -> None:
    refused_v1_field(api, field, value, message)
    options = {
        "model": "orchestratex/fast",
        "messages": PROMPT,
        "stream": True,
        "stream_options": {"include_usage": "1"},
    }
    r = api.client.post("/v1/chat/completions", json=options, headers=api.alice)
    assert r.status_code == 400 and r.json()["error"]["param"] == "stream_options.include_usage", r.text


def test_v1_still_takes_the_booleans_openai_clients_send(api: Api) -> None:
    body = {"model": "orchestratex/fast", "messages": PROMPT, "stream": False, "store": False, "logprobs": False}
    tools = {"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "none"}
    r = api.client.post("/v1/chat/completions", json={**body, **tools, "parallel_tool_calls": True}, headers=api.alice)
    assert r.status_code == 200 and r.json()["object"] == "chat.completion", r.text


def test_v1_still_takes_the_numbers_openai_clients_send(api: Api) -> None:
    body = {"model": "orchestratex/fast", "messages": PROMPT, "temperature": 1, "max_tokens": 200, "cost_limit": 2}
    r = api.client.post("/v1/chat/completions", json=body, headers=api.alice)
    assert r.status_code == 200, r.text


def test_a_preset_refuses_a_boolean_or_a_string_for_a_number() -> None:
    with pytest.raises(ConfigurationError, match=r"'mine': cost_limit: must be a number, not the boolean true"):
        parse_presets(json.dumps({"mine": {"cost_limit": True}}))
    with pytest.raises(ConfigurationError, match=r'max_iterations: must be a whole number, not the string "3"'):
        parse_presets({"mine": {"max_iterations": "3"}})
    assert Preset(cost_limit=1, max_iterations=2).cost_limit == 1.0


def test_number_message_words_only_the_number_errors() -> None:
    with pytest.raises(ValidationError) as caught:
        Preset.model_validate({"cost_limit": 10**400, "max_iterations": [1], "patience": "x" * 100})
    messages = {e["loc"][0]: number_message(e) for e in caught.value.errors()}
    assert messages == {
        "cost_limit": "is too large a number (the largest is 1.8e+308)",
        "max_iterations": "Input should be a valid integer",  # (pydantic's own)
        "patience": f'must be a whole number, not the string "{"x" * 40}…": write the number without quotes',
    }


def test_a_whole_number_written_as_a_decimal_is_told_to_be_written_as_an_integer(api: Api) -> None:
    """`max_tokens=budget / 2` (a Python float, `100.0` in JSON) was refused, as OpenAI refuses it, saying it "must be a
    whole number, not 100.0", which it is; `1e3` was "not 1000.0", a number the client never wrote."""
    client = OpenAI(base_url="http://testserver/v1", api_key=api.keys["alice"], http_client=api.client, max_retries=0)
    with pytest.raises(BadRequestError) as refused:
        half: Any = 200 / 2  # (a budget halved: 100.0)
        asked: Any = PROMPT
        client.chat.completions.create(model="orchestratex/fast", messages=asked, max_tokens=half)
    assert (refused.value.param, refused.value.code) == ("max_tokens", "invalid_value")
    assert refused.value.message.endswith(
        " - max_tokens: must be an integer, written without a decimal point or exponent (100), not 100.0"
    )
    raw = b'{"model": "orchestratex/fast", "messages": [{"role": "user", "content": "hi"}], "seed": 1e3}'
    r = api.client.post("/v1/chat/completions", content=raw, headers={**api.alice, "Content-Type": "application/json"})
    assert (
        r.json()["error"]["message"]
        == "seed: must be an integer, written without a decimal point or exponent (1000), not 1000.0"
    )
    r = api.client.post("/api/sessions/", json={"user_id": "alice", "max_iterations": 3.0}, headers=api.alice)
    assert r.status_code == 422 and "(3), not 3.0" in r.text, r.text
    refused_v1_field(api, "max_tokens", 2.5, "max_tokens: must be a whole number, not 2.5")  # (a fraction: as it was)


def test_a_negative_zero_is_read_as_zero_not_shown_back_as_minus_zero(api: Api) -> None:
    # `json.dumps(-0.0)` writes `-0.0` (a budget computed as a negated zero): it was accepted as the zero it equals,
    # then shown back as `"cost_limit": -0.0` in the session, and `-0.0` in the orchestration's settings
    r = api.client.post("/api/sessions/", content='{"settings": {"cost_limit": -0.0}}', headers={**api.alice, **_JSON})
    assert r.status_code == 201, r.text
    assert '"cost_limit":0.0' in r.text and ":-0" not in r.text
    stored = api.client.get(f"/api/sessions/{r.json()['_id']}", headers=api.alice)
    assert '"cost_limit":0.0' in stored.text and ":-0" not in stored.text
    session = api.session(settings={"cost_limit": 1.0})
    thread = api.thread(session["_id"])
    body = json.dumps({"thread_id": thread["_id"], "settings": {"evaluation_threshold": -0.0}})
    r = api.client.post("/api/orchestration/start", content=body, headers={**api.alice, **_JSON})
    assert r.status_code == 202, r.text
    assert r.json()["settings"]["evaluation_threshold"] == 0.0
    assert ":-0" not in r.text
    # a start's own cost_limit of -0.0 is the budget of nothing it equals (refused: its run could spend nothing)
    body = json.dumps({"thread_id": thread["_id"], "settings": {"cost_limit": -0.0}})
    r = api.client.post("/api/orchestration/start", content=body, headers={**api.alice, **_JSON})
    assert r.status_code == 409, r.text
    assert r.json()["detail"].startswith("settings.cost_limit is $0, a budget of nothing")


_JSON = {"Content-Type": "application/json"}


def test_v1_takes_a_null_include_usage_as_not_set(api: Api) -> None:
    """`stream_options: {"include_usage": null}`, as clients with an optional boolean send it (a C# `bool?`, an
    Elixir struct's `nil`), was a 400 "stream_options.include_usage: must be true or false", though `"stream": null`
    and every other top-level `null` is taken as not set: the stream now answers, without a usage chunk."""
    client = OpenAI(base_url="http://testserver/v1", api_key=api.keys["alice"], http_client=api.client, max_retries=0)
    messages: Any = PROMPT
    options: Any = {"include_usage": None}
    stream = client.chat.completions.create(
        model="orchestratex/fast", messages=messages, stream=True, stream_options=options
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert all(c.usage is None for c in chunks)
