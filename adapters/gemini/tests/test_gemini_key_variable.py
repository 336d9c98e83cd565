"""A refused key's message names the variable the key came from.

google-genai (and the adapter) take `GOOGLE_API_KEY` over `GEMINI_API_KEY` when both are set. A refused key always
said "set GEMINI_API_KEY to a valid key": with the stale key in `GOOGLE_API_KEY`, setting `GEMINI_API_KEY` again, as
told, changed nothing, and the next run was refused the same way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

import orchestratex.providers
from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import AuthenticationError
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import Reply, local_server
from orchestratex_gemini import GeminiProvider

MODEL = ModelProfile(name="gemini:gemini-2.5-flash", input_cost_per_1k=0.0003, output_cost_per_1k=0.0025)
REQUEST = GenerationRequest(model=MODEL, messages=[Message(role="user", content="Hello")], max_output_tokens=50)
REFUSED = {  # Google's documented answer to an invalid key
    "error": {
        "code": 400,
        "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }
        ],
    }
}


@pytest.fixture
def url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not Google
    for var in ("GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    with local_server(lambda sent: Reply(400, content=json.dumps(REFUSED).encode())) as base:
        yield base


def refused(provider: GeminiProvider) -> str:
    async def call() -> None:
        async with provider:
            await provider.generate(REQUEST)

    with pytest.raises(AuthenticationError) as caught:
        asyncio.run(call())
    return caught.value.message


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"GEMINI_API_KEY": "AIza-gemini"}, "set GEMINI_API_KEY to a valid key"),
        ({"GOOGLE_API_KEY": "AIza-google"}, "set GOOGLE_API_KEY to a valid key"),
        (
            {"GOOGLE_API_KEY": "AIza-stale", "GEMINI_API_KEY": "AIza-new"},
            "set GOOGLE_API_KEY (which wins over GEMINI_API_KEY) to a valid key",
        ),
    ],
)
def test_a_refused_key_names_the_variable_it_came_from(
    url: str, env: dict[str, str], named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert refused(GeminiProvider.from_env({**env, "GOOGLE_GEMINI_BASE_URL": url})).endswith(named)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert refused(GeminiProvider(base_url=url)).endswith(named), "the key read by the constructor"
    assert refused(GeminiProvider(api_key="AIza-given", base_url=url)).endswith("set GEMINI_API_KEY to a valid key")


def test_a_key_a_gateway_quotes_in_its_error_is_shown_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not Google
    key = "AIzaGatewayQuoted-Zq8mR2vT5xY7wK3pL9"
    quoted = {"error": {**REFUSED["error"], "message": f"API key not valid: {key}"}}
    with local_server(lambda sent: Reply(400, content=json.dumps(quoted).encode())) as base:
        message = refused(GeminiProvider(api_key=key, base_url=base))
    assert "API key not valid: ***" in message and key not in message


def test_a_key_quoted_where_a_long_page_is_cut_is_not_half_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """A gateway's error page (not JSON) is quoted cut to 300 characters: the key was masked after the cut, so a key
    the cut went through was left with its first characters shown."""
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not Google
    key = "AIzaGatewayQuoted-Zq8mR2vT5xY7wK3pL9"
    page = ("x" * 270 + f" refused key {key} " + "y" * 200).encode()
    with local_server(lambda sent: Reply(401, content=page, headers={"content-type": "text/plain"})) as base:
        message = refused(GeminiProvider(api_key=key, base_url=base))
    assert "refused key ***" in message and key[:10] not in message
