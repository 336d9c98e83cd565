"""`ALLOW_MODEL_REQUESTS = False` makes a test that forgot its test double fail loudly, as docs/testing.md says:
`run()` raised nothing, it returned a `failed` result (the adapter's refusal taken as the model's failure: a
fallback, or a failed verdict and "no judge produced a verdict"), which a test that did not check the status passed."""

from __future__ import annotations

import json

import pytest

import orchestratex.providers
from orchestratex import FunctionProvider, GenerationRequest, MemoryStore, ModelCatalog, ModelProfile, Orchestrator
from orchestratex.exceptions import UserError
from orchestratex_openai import OpenAIProvider


async def answer(request: GenerationRequest) -> str:
    if request.purpose == "judge":
        return json.dumps({"score": 9.0, "feedback": "ok"})
    return "Paris."


@pytest.mark.parametrize("role", ["author", "judge"])
async def test_a_run_that_would_reach_a_vendor_raises_when_requests_are_blocked(
    role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", False)
    catalog = ModelCatalog(
        [
            ModelProfile(name="openai:gpt-4.1-mini", cost_per_1k_tokens=0.001, quality=8.0),
            ModelProfile(name="function:local", cost_per_1k_tokens=0.001, quality=7.0),
        ]
    )
    store = MemoryStore()
    orch = Orchestrator(
        providers=[OpenAIProvider(api_key="sk-test"), FunctionProvider(answer)], catalog=catalog, store=store
    )
    author = "openai:gpt-4.1-mini" if role == "author" else "function:local"
    for _ in range(2):  # (a second run on the same orchestrator)
        with pytest.raises(UserError, match="ALLOW_MODEL_REQUESTS is False"):
            await orch.run("What is the capital of France?", preferred_models=[author])
    runs = [o for s in await store.list_sessions("local") for o in await store.list_orchestrations(session_id=s.id)]
    assert [(o.status, o.stop_reason) for o in runs] == [("failed", "error")] * 2  # (stored as it ended)
    await orch.aclose()
