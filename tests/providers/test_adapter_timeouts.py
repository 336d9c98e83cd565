"""The adapters' `timeout=`: seconds > 0, or None for no time limit; anything else refused when the provider is made.

`timeout=0` (read as "no limit" by some libraries) made every call time out at once, retried and then failed;
`timeout="30"` and NaN failed in the SDK at the first call (`TypeError: Invalid timeout`) or when the client was
built; `GeminiProvider(timeout=None)` raised `TypeError: unsupported operand type(s) for *`.
"""

from __future__ import annotations

import math
from typing import Any

import httpx2
import pytest

from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import UserError
from orchestratex.providers import GenerationRequest, Message

pytest.importorskip("orchestratex_openai")
pytest.importorskip("orchestratex_anthropic")
pytest.importorskip("orchestratex_gemini")

from orchestratex_anthropic import AnthropicProvider
from orchestratex_gemini import GeminiProvider
from orchestratex_openai import OpenAIProvider

ADAPTERS = [OpenAIProvider, AnthropicProvider, GeminiProvider]


@pytest.mark.parametrize("cls", ADAPTERS)
@pytest.mark.parametrize("timeout", [0, -5, math.nan, math.inf, "30", True])
def test_a_timeout_that_is_no_number_of_seconds_is_refused(cls: Any, timeout: object) -> None:
    with pytest.raises(UserError) as info:
        cls(api_key="test-key", timeout=timeout)
    assert f"{cls.name}: timeout must be a number of seconds > 0 (or None for no time limit), got {timeout!r}" == str(
        info.value
    )


def _gemini(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(
        200,
        json={
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi!"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 3, "totalTokenCount": 12},
        },
    )


@pytest.mark.parametrize("timeout", [None, 0.25, 45])
async def test_gemini_takes_no_time_limit_and_fractions_of_a_second(timeout: float | None) -> None:
    provider = GeminiProvider(
        api_key="test-key", timeout=timeout, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(_gemini))
    )
    options = provider._client._api_client._http_options
    assert options.timeout == (None if timeout is None else math.ceil(timeout * 1000))  # milliseconds
    model = ModelProfile(name="gemini:gemini-2.5-flash", input_cost_per_1k=0.0003, output_cost_per_1k=0.0025)
    generation = await provider.generate(GenerationRequest(model=model, messages=[Message(role="user", content="Hi")]))
    assert generation.text == "Hi!"


@pytest.mark.parametrize("cls", [OpenAIProvider, AnthropicProvider])
async def test_the_sdks_take_no_time_limit(cls: Any) -> None:
    provider = cls(api_key="test-key", timeout=None)
    assert provider._client.timeout is None  # the SDK client's: no time limit
    await provider.aclose()
