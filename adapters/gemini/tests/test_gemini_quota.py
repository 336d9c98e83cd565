"""Gemini's 429 for a quota that waiting cannot bring back: a daily quota spent, or a model with no quota on the plan.

Its body still carries a `RetryInfo` ("retry in 43s"), so it was a `RateLimited` retried after that wait, capped at
`RetryPolicy.max_wait` (30 s): a run waited a minute on a model that could not answer before trying another.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex import BayesianRouter, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.exceptions import ProviderHTTPError, RateLimited
from orchestratex.orchestrator import RetryPolicy
from orchestratex.providers import GenerationRequest, Message
from orchestratex.usage import Usage
from orchestratex_gemini import GeminiProvider

from .test_gemini_contract import gemini_response

PRO = ModelProfile(name="gemini:gemini-2.5-pro", input_cost_per_1k=0.00125, output_cost_per_1k=0.01, quality=9)
FLASH = ModelProfile(name="gemini:gemini-2.5-flash", input_cost_per_1k=0.0003, output_cost_per_1k=0.0025, quality=7)
JUDGE = ModelProfile(name="gemini:gemini-2.5-flash-lite", input_cost_per_1k=0.0001, output_cost_per_1k=0.0004)


def quota_error(quota_id: str, message: str) -> dict[str, Any]:
    """Gemini's 429 body, as the API answers it."""
    return {
        "error": {
            "code": 429,
            "message": message,
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                            "quotaId": quota_id,
                            "quotaDimensions": {"location": "global", "model": "gemini-2.5-pro"},
                        }
                    ],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "43s"},
            ],
        }
    }


DAILY = quota_error(
    "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
    "You exceeded your current quota, please check your plan and billing details.",
)
NONE = quota_error(
    "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
    "You exceeded your current quota, please check your plan and billing details.\n* Quota exceeded for metric:"
    " generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 0, model: gemini-2.5-pro",
)
PER_MINUTE = quota_error(
    "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
    "You exceeded your current quota, please check your plan and billing details.\n* Quota exceeded for metric:"
    " generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 10, model: gemini-2.5-pro",
)


def gemini(exhausted: dict[str, Any], calls: list[str]) -> httpx2.MockTransport:
    def handler(request: httpx2.Request) -> httpx2.Response:
        model = request.url.path.split("/models/")[1].split(":")[0]
        calls.append(model)
        if model == PRO.version:
            return httpx2.Response(429, json=exhausted)
        judging = "responseMimeType" in json.loads(request.content).get("generationConfig", {})
        text = '{"score": 9, "feedback": "good"}' if judging else "Paris."
        return httpx2.Response(200, json=gemini_response(Usage(input_tokens=8, output_tokens=3), text=text))

    return httpx2.MockTransport(handler)


@pytest.mark.parametrize("body", [DAILY, NONE], ids=["daily-quota-spent", "limit-0"])
async def test_a_quota_waiting_cannot_cure_is_not_a_rate_limit(body: dict[str, Any]) -> None:
    calls: list[str] = []
    provider = GeminiProvider(api_key="AIza-test", http_client=httpx2.AsyncClient(transport=gemini(body, calls)))
    with pytest.raises(ProviderHTTPError) as info:
        await provider.generate(GenerationRequest(model=PRO, messages=[Message(role="user", content="Capital?")]))
    assert type(info.value) is ProviderHTTPError and not info.value.retryable
    assert "quota exhausted (429)" in str(info.value)


async def test_a_per_minute_limit_is_still_a_rate_limit_with_its_wait() -> None:
    calls: list[str] = []
    provider = GeminiProvider(api_key="AIza-test", http_client=httpx2.AsyncClient(transport=gemini(PER_MINUTE, calls)))
    with pytest.raises(RateLimited) as info:
        await provider.generate(GenerationRequest(model=PRO, messages=[Message(role="user", content="Capital?")]))
    assert info.value.retry_after == 43.0


def test_a_run_moves_on_at_once_instead_of_waiting_on_a_spent_daily_quota() -> None:
    calls: list[str] = []
    waits: list[float] = []
    provider = GeminiProvider(api_key="AIza-test", http_client=httpx2.AsyncClient(transport=gemini(DAILY, calls)))
    with Orchestrator(
        catalog=ModelCatalog([PRO, FLASH, JUDGE]),
        providers=[provider],
        router=BayesianRouter(explore=False),
        retry=RetryPolicy(sleep=waits.append),
    ) as orchestrator:
        result = orchestrator.run_sync("Capital of France?", preferred_models=[PRO.name, FLASH.name], max_iterations=2)
    assert result.status == "completed" and result.final_response == "Paris.", result.error
    assert calls.count(PRO.version) == 1 and waits == [], (calls, waits)
