"""A base URL as an env file or a secret store gives it: with a trailing space or line break.

`OPENAI_BASE_URL="http://localhost:11434/v1 "` made the SDK send every call to `…/v1%20/chat/completions`, which
the server answers 404, and the error's hint then said the base URL lacked its `/v1`; `OLLAMA_BASE_URL` ending in a
line break raised a bare `httpx2.InvalidURL` from deep inside the SDK. Both are now refused when the provider is made,
naming the variable, as a catalog file's `base_url` and `orchestratex models` refuse them.
"""

from __future__ import annotations

import pytest

from orchestratex import Orchestrator
from orchestratex.exceptions import ConfigurationError
from orchestratex_openai import OllamaProvider, OpenAIProvider


@pytest.mark.parametrize(
    ("cls", "variable", "url", "message"),
    [
        (OpenAIProvider, "OPENAI_BASE_URL", "http://localhost:11434/v1 ", "has white space at an end: remove it"),
        (OllamaProvider, "OLLAMA_BASE_URL", "http://localhost:11434/v1\n", "has white space at an end: remove it"),
        (OllamaProvider, "OLLAMA_BASE_URL", "http://localhost:11434/ v1", "has white space inside: remove it"),
        (OpenAIProvider, "OPENAI_BASE_URL", "http://localhost:11434/v1\x00", "has a control character at an end"),
    ],
)
def test_a_base_url_with_white_space_is_refused_naming_its_variable(
    cls: type[OpenAIProvider], variable: str, url: str, message: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        cls.from_env({variable: url})
    assert f"{cls.name}: the base URL {url!r} ({variable}) {message}" in str(info.value)


def test_an_orchestrator_configured_from_the_environment_refuses_it() -> None:
    """(`orchestratex run` already refused it: the CLI checks the variable before it makes the provider.)"""
    with pytest.raises(ConfigurationError) as info:
        Orchestrator(env={"OPENAI_BASE_URL": "http://localhost:11434/v1 "}, store="memory://")
    assert "the base URL 'http://localhost:11434/v1 ' (OPENAI_BASE_URL) has white space at an end" in str(info.value)
