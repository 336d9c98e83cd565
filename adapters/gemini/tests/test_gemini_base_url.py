"""A base URL every call would fail with is refused when the provider is made, naming where it came from."""

from __future__ import annotations

import pytest

from orchestratex import Orchestrator
from orchestratex.exceptions import ConfigurationError
from orchestratex_gemini import GeminiProvider

BAD = [
    ("http:/localhost:4000", "names no host: write the scheme, '://' and the server's host"),  # (a slash short)
    ("localhost:4000", "is not an http:// or https:// URL: write it whole, e.g. http://localhost:4000"),
    ("https://gw.example/gemini ", "has white space at an end: remove it: write 'https://gw.example/gemini'"),
    ("https://gw.example/gemini\r", "has white space at an end"),  # (a `.env` file written on Windows)
]


@pytest.mark.parametrize(("url", "said"), BAD)
def test_a_bad_gemini_base_url_variable_is_refused_when_the_orchestrator_is_made(
    monkeypatch: pytest.MonkeyPatch, url: str, said: str
) -> None:
    """`GOOGLE_GEMINI_BASE_URL=localhost:4000` (a gateway's host and port) was taken: every call then failed as a
    retried `ProviderConnectionError` "Request URL is missing an 'http://' or 'https://' protocol", model after model,
    and a trailing space was sent as `…/gemini%20/v1/models/…` (a 404), while `OPENAI_BASE_URL` was refused at once.
    It is now refused when the provider is made, as that one is."""
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-test")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", url)
    with pytest.raises(ConfigurationError) as raised:
        Orchestrator()
    assert "(GOOGLE_GEMINI_BASE_URL)" in str(raised.value) and said in str(raised.value)
    with pytest.raises(ConfigurationError, match=r"\(GOOGLE_GEMINI_BASE_URL\)"):
        GeminiProvider.from_env({"GEMINI_API_KEY": "AIza-test", "GOOGLE_GEMINI_BASE_URL": url})
    with pytest.raises(ConfigurationError, match=r"\(base_url\)"):
        GeminiProvider(api_key="AIza-test", base_url=url)


def test_a_good_base_url_and_its_password_are_kept_out_of_the_refusal() -> None:
    assert GeminiProvider(api_key="k", base_url="http://localhost:4000").base_url == "http://localhost:4000"
    with pytest.raises(ConfigurationError) as raised:
        GeminiProvider(api_key="k", base_url="user:secret@proxy.example")
    assert "secret" not in str(raised.value)
