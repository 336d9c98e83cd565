"""A 200 whose body is not JSON — a web page at the base URL (a web app's, a captive portal's or a proxy's login page
answered with 200): the SDK hands such a body on as its text, which was read as an answer without its fields ("chat
completion without choices"; streamed, "ended without a finish reason"), saying nothing of what the server sent."""

from __future__ import annotations

import pytest

from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import MalformedResponse
from orchestratex.testing.provider_contract import MockServer, Reply

from .test_openai_provider import provider_on, request

PAGE = (
    "<!DOCTYPE html>\n<html>\n<head><title>Sign in</title></head>\n<body>\n"
    + "<p>Please sign in to continue to the network.</p>\n" * 40
    + "</body>\n</html>\n"
)
HTML = Reply(200, content=PAGE.encode(), headers={"content-type": "text/html; charset=utf-8"})
NOT_JSON = r"^the server answered with a body that is not JSON, not the API's answer \(check the base URL\): <!DOCTYPE"


async def test_a_web_page_answered_to_a_chat_completion_is_said_to_be_one() -> None:
    with pytest.raises(MalformedResponse, match=NOT_JSON) as raised:
        await provider_on(MockServer(HTML)).generate(request())
    message = str(raised.value)
    assert "<title>Sign in</title>" in message and "\n" not in message and len(message) < 420, message
    assert not raised.value.retryable


async def test_an_empty_body_is_said_to_be_one() -> None:
    with pytest.raises(MalformedResponse, match=r"not JSON, .*: an empty body$"):
        await provider_on(MockServer(Reply(200, content=b"", headers={"content-type": "text/plain"}))).generate(
            request()
        )


async def test_a_web_page_answered_to_a_responses_call_is_said_to_be_one() -> None:
    pro = ModelProfile(name="openai:gpt-5-pro", input_cost_per_1k=0.015, output_cost_per_1k=0.12)
    with pytest.raises(MalformedResponse, match=NOT_JSON):
        await provider_on(MockServer(HTML)).generate(request(pro))


async def test_a_web_page_answered_to_a_stream_is_said_to_be_no_stream() -> None:
    async def on_text(text: str) -> None:
        raise AssertionError(f"no text was sent, yet {text!r} was handed on")

    with pytest.raises(MalformedResponse, match=r"stream held no chunk: .*not server-sent events .*check the base URL"):
        await provider_on(MockServer(HTML)).generate_stream(request(), on_text)
