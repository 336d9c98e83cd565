"""Shared fixtures. Real provider requests are blocked for the whole test run."""

from __future__ import annotations

import pytest

import orchestratex.providers

orchestratex.providers.ALLOW_MODEL_REQUESTS = False


@pytest.fixture(autouse=True)
def _no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's real keys, so the simulator is the default everywhere."""
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "ORCHESTRATEX_STORE_URL"):
        monkeypatch.delenv(var, raising=False)
