"""`ORCHESTRATEX_PROVIDER_TIMEOUT_S` is the `timeout` of a provider built from the environment (`from_env`), as for
the OpenAI adapter: a `GOOGLE_GEMINI_BASE_URL` gateway in front of a slow server could not wait past 120 s."""

from __future__ import annotations

import pytest

from orchestratex.exceptions import ConfigurationError
from orchestratex_gemini import GeminiProvider


def test_the_variable_is_the_provider_s_timeout() -> None:
    assert GeminiProvider.from_env({"GEMINI_API_KEY": "k"})._timeout == 120.0
    env = {"GEMINI_API_KEY": "k", "ORCHESTRATEX_PROVIDER_TIMEOUT_S": "600"}
    assert GeminiProvider.from_env(env)._timeout == 600.0
    with pytest.raises(ConfigurationError, match=r"^ORCHESTRATEX_PROVIDER_TIMEOUT_S must be a number of seconds > 0"):
        GeminiProvider.from_env({**env, "ORCHESTRATEX_PROVIDER_TIMEOUT_S": "-1"})
