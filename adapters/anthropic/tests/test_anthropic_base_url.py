"""A base URL every call would fail with is refused when the provider is made, naming where it came from."""

from __future__ import annotations

import pytest

from orchestratex import Orchestrator
from orchestratex.exceptions import ConfigurationError
from orchestratex_anthropic import AnthropicProvider

BAD = [
    ("localhost:4000", "does not start with http:// or https://; write it whole, e.g. http://localhost:4000"),
    ("https://gw.example/anthropic ", "has white space at an end: remove it: write 'https://gw.example/anthropic'"),
    ("https://gw.example/anthropic\r", "has white space at an end"),  # (a `.env` file written on Windows)
]


@pytest.mark.parametrize(("url", "said"), BAD)
def test_a_bad_anthropic_base_url_variable_is_refused_when_the_orchestrator_is_made(
    monkeypatch: pytest.MonkeyPatch, url: str, said: str
) -> None:
    """`ANTHROPIC_BASE_URL=localhost:4000` (a LiteLLM proxy's host and port) was taken: every call then failed as a
    retried `ProviderConnectionError` "Request URL has an unsupported protocol 'localhost://'", model after model, and
    a trailing space (`…/anthropic%20/v1/messages`, a 404) or line break (a raw `httpx2.InvalidURL`) likewise, while
    `OPENAI_BASE_URL` was refused at once. It is now refused when the provider is made, as that one is."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    with pytest.raises(ConfigurationError) as raised:
        Orchestrator()
    assert "(ANTHROPIC_BASE_URL)" in str(raised.value) and said in str(raised.value)
    with pytest.raises(ConfigurationError, match=r"\(ANTHROPIC_BASE_URL\)"):
        AnthropicProvider.from_env({"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": url})
    with pytest.raises(ConfigurationError, match=r"\(base_url\)"):
        AnthropicProvider(api_key="sk-ant-test", base_url=url)


def test_a_good_base_url_and_its_password_are_kept_out_of_the_refusal() -> None:
    assert AnthropicProvider(api_key="k", base_url="http://localhost:4000").base_url == "http://localhost:4000"
    with pytest.raises(ConfigurationError) as raised:
        AnthropicProvider(api_key="k", base_url="user:secret@proxy.example")
    assert "secret" not in str(raised.value)
