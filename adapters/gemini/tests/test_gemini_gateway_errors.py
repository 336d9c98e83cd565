"""Errors from a server between the adapter and Gemini (a gateway, a proxy): what the message says about them."""

from __future__ import annotations

import httpx2
import pytest

from orchestratex.catalog import ModelCatalog
from orchestratex.exceptions import (
    MalformedResponse,
    ModelNotFound,
    ProviderHTTPError,
    ProviderServerError,
    ProviderTimeout,
)
from orchestratex.providers import GenerationRequest, Message
from orchestratex_gemini import GeminiProvider

MODEL = ModelCatalog.default().get("gemini:gemini-4-hydrogen")


def request() -> GenerationRequest:
    return GenerationRequest(model=MODEL, messages=[Message(role="user", content="Hello")], max_output_tokens=64)


def answering(status: int, **reply: object) -> httpx2.AsyncClient:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, **reply)  # type: ignore[arg-type]

    return httpx2.AsyncClient(transport=httpx2.MockTransport(handler))


async def test_a_base_url_ending_in_the_api_version_is_named_in_the_404() -> None:
    """`GOOGLE_GEMINI_BASE_URL=https://gateway.example/gemini/v1beta` (the API's root as Google's REST docs write it):
    the SDK adds its own API version, the gateway answered 404 `{"detail": "Not Found"}`, and the error said only
    "gemini error (404): " — no message, no URL. It now quotes the body and says the base URL must not end in one."""
    client = answering(404, json={"detail": "Not Found"})
    provider = GeminiProvider(api_key="k", base_url="https://gateway.example/gemini/v1beta", http_client=client)
    with pytest.raises(ProviderHTTPError) as raised:
        await provider.generate(request())
    message = str(raised.value)
    assert message.startswith(
        'gemini error (404): {"detail": "Not Found"} (POST https://gateway.example/gemini/v1beta/'
    )
    assert "the base URL must not end in /v1beta, the SDK adds the API version" in message
    assert "GOOGLE_GEMINI_BASE_URL" in message and raised.value.retryable is False


async def test_a_gateway_s_404_page_names_the_url_tried() -> None:
    client = answering(404, text="404 page not found")
    provider = GeminiProvider(api_key="k", base_url="https://user:secret@gateway.example/gemini", http_client=client)
    with pytest.raises(ProviderHTTPError) as raised:
        await provider.generate(request())
    message = str(raised.value)
    assert "404 page not found (POST https://user:***@gateway.example/gemini/" in message, message
    assert "not found: check the base URL" in message and "secret" not in message


async def test_a_gateway_s_json_error_without_google_s_fields_is_quoted() -> None:
    """A LiteLLM-style `{"detail": "…"}` or `{"error": "…"}` body: google-genai reads no message from it."""
    client = answering(400, json={"error": "Invalid model name passed in model=gemini-4-hydrogen"})
    provider = GeminiProvider(api_key="k", http_client=client)
    with pytest.raises(ProviderHTTPError) as raised:
        await provider.generate(request())
    assert "Invalid model name passed in model=gemini-4-hydrogen" in str(raised.value), str(raised.value)


async def test_google_s_own_404_keeps_its_message_without_a_hint() -> None:
    """A model Google does not serve (retired, mistyped) is `ModelNotFound` (not retried; `/v1` answers a call naming it
    404 `model_not_found`, not 502), its message Google's."""
    error = {
        "code": 404,
        "message": "models/gemini-4-hydrogen is not found for API version v1beta",
        "status": "NOT_FOUND",
    }
    provider = GeminiProvider(api_key="k", http_client=answering(404, json={"error": error}))
    with pytest.raises(ModelNotFound) as raised:
        await provider.generate(request())
    assert str(raised.value).endswith(f"(404): NOT_FOUND {error['message']}") and not raised.value.retryable
    assert "check the base URL" not in str(raised.value)


@pytest.mark.parametrize(
    "reply",
    [
        {"text": "<html><body><h1>408 Request Time-out</h1></body></html>", "headers": {"content-type": "text/html"}},
        {"json": {"error": {"code": 408, "message": "Request Timeout", "status": "UNKNOWN"}}},
    ],
)
async def test_a_408_is_a_timeout_retried_as_every_adapter_s_is(reply: dict[str, object]) -> None:
    """A load balancer's or proxy's 408 (no `DEADLINE_EXCEEDED` in it) was a non-retried `ProviderHTTPError`, though a
    408 is a `ProviderTimeout`, retried with backoff, for every other adapter and in the documented table."""
    provider = GeminiProvider(api_key="k", http_client=answering(408, **reply))
    with pytest.raises(ProviderTimeout) as raised:
        await provider.generate(request())
    assert raised.value.retryable and "408" in str(raised.value)


PAGE = (
    "<!DOCTYPE html>\n<html>\n<head>\n<title>502 Bad Gateway</title>\n<style>\n"
    + "body { font-family: sans-serif; margin: 0; padding: 0 }\n" * 80
    + "</style>\n</head>\n<body>\n<h1>502 Bad Gateway</h1>\n</body>\n</html>\n"
)
"""A proxy's error page (4.7 KB, 91 lines), as a CDN or a load balancer in front of a gateway answers."""


async def test_a_proxy_s_html_page_is_quoted_on_one_line_cut_to_300_characters() -> None:
    """The page was quoted whole, line breaks and all, in the error's message, which `orchestratex run` printed for
    each model that failed ("no judge produced a verdict (…: <the page>; …: <the page>)"); it is now on one line and cut
    to 300 characters, as a gateway's JSON body is (and as the OpenAI adapter quotes such a page)."""
    provider = GeminiProvider(api_key="k", http_client=answering(502, text=PAGE, headers={"content-type": "text/html"}))
    with pytest.raises(ProviderServerError) as raised:
        await provider.generate(request())
    message = str(raised.value)
    assert message.startswith("gemini server error (502): Bad Gateway <!DOCTYPE html> <html> <head> <title>502 Bad")
    assert "\n" not in message and message.endswith("…") and len(message) < 360, message


async def test_a_web_page_answered_with_200_is_said_to_be_one() -> None:
    """A 200 whose body is not JSON (a web page at the base URL, a captive portal's or a proxy's sign-in page) said only
    "gemini answered with a body that is not a valid response: Expecting value: line 1 column 1 (char 0)"."""
    provider = GeminiProvider(api_key="k", http_client=answering(200, text=PAGE, headers={"content-type": "text/html"}))
    with pytest.raises(MalformedResponse) as raised:
        await provider.generate(request())
    message = str(raised.value)
    assert message.startswith(
        "gemini: the server answered with a body that is not JSON, not the API's answer (check the base URL):"
        " <!DOCTYPE html> <html> <head> <title>502 Bad Gateway</title>"
    )
    assert "\n" not in message and len(message) < 420, message


async def test_json_cut_short_is_not_said_to_be_a_web_page() -> None:
    provider = GeminiProvider(api_key="k", http_client=answering(200, text='{"candidates": [{"content": '))
    with pytest.raises(MalformedResponse, match="answered with a body that is not a valid response: Expecting value"):
        await provider.generate(request())
