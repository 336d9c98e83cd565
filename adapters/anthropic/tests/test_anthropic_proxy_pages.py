"""An error answered by a server between the adapter and Anthropic (a proxy's HTML page, a gateway's text): how the
message quotes it."""

from __future__ import annotations

import re

import pytest

from orchestratex.exceptions import AuthenticationError, MalformedResponse, ProviderError, ProviderServerError
from orchestratex.testing.provider_contract import MockServer, Reply

from .test_anthropic_provider import provider_on, request

PAGE = (
    "<!DOCTYPE html>\n<html>\n<head>\n<title>502 Bad Gateway</title>\n<style>\n"
    + "body { font-family: sans-serif; margin: 0; padding: 0 }\n" * 80
    + "</style>\n</head>\n<body>\n<h1>502 Bad Gateway</h1>\n</body>\n</html>\n"
)
"""A proxy's error page (4.7 KB, 91 lines), as a CDN or a load balancer in front of a gateway answers."""

_CUT_THEN_PATH = re.compile(r"…(?: \(path: /v1/messages\))?(?:;|\Z)")
"""The page cut, then the request's path where the SDK's message gives it (newer SDKs do, the oldest allowed not)."""


@pytest.mark.parametrize(("status", "expected"), [(502, ProviderServerError), (403, AuthenticationError)])
async def test_a_proxy_s_html_page_is_quoted_on_one_line_cut_to_300_characters(
    status: int, expected: type[ProviderError]
) -> None:
    """The page was quoted whole, line breaks and all, in the error's message, which `orchestratex run` printed for
    each model that failed ("no judge produced a verdict (…: <the page>; …: <the page>)"); it is now on one line and cut
    to 300 characters, as the OpenAI adapter quotes such a page, the request's path kept after it."""
    server = MockServer(Reply(status, content=PAGE.encode(), headers={"content-type": "text/html"}))
    with pytest.raises(expected) as raised:
        await provider_on(server).generate(request())
    message = str(raised.value)
    assert f"({status}): {status} <!DOCTYPE html> <html> <head> <title>502 Bad Gateway</title>" in message, message
    assert "\n" not in message and message.count("font-family") < 10, message
    assert _CUT_THEN_PATH.search(message) and len(message) < 420, message


async def test_a_short_text_body_is_quoted_as_it_came() -> None:
    server = MockServer(Reply(503, content=b"upstream connect error or disconnect/reset before headers"))
    with pytest.raises(ProviderServerError) as raised:
        await provider_on(server).generate(request())
    quoted = "anthropic server error (503): 503 upstream connect error or disconnect/reset before headers"
    assert str(raised.value) in (quoted + " (path: /v1/messages)", quoted), str(raised.value)


async def test_a_web_page_answered_with_200_is_said_to_be_one() -> None:
    """A 200 whose body is not JSON (a web page at the base URL, a captive portal's or a proxy's login page): the SDK
    hands it on as its text, which was read as a message without its fields ("message without content, usage or stop
    reason"), saying nothing of what the server sent."""
    server = MockServer(Reply(200, content=PAGE.encode(), headers={"content-type": "text/html"}))
    with pytest.raises(MalformedResponse) as raised:
        await provider_on(server).generate(request())
    message = str(raised.value)
    assert message.startswith(
        "the server answered with a body that is not JSON, not the API's answer (check the base URL): <!DOCTYPE html>"
    )
    assert "\n" not in message and len(message) < 420, message
