"""`ORCHESTRATEX_PROVIDER_TIMEOUT_S` is the `timeout` of a provider built from the environment (`from_env`), as for
the OpenAI adapter: an `ANTHROPIC_BASE_URL` gateway in front of a slow server had no way to wait longer than 120 s."""

from __future__ import annotations

import pytest

from orchestratex.exceptions import ConfigurationError
from orchestratex_anthropic import AnthropicProvider


def test_the_variable_is_the_provider_s_timeout() -> None:
    assert AnthropicProvider.from_env({"ANTHROPIC_API_KEY": "k"})._deadline == 120.0
    env = {"ANTHROPIC_API_KEY": "k", "ORCHESTRATEX_PROVIDER_TIMEOUT_S": "600"}
    assert AnthropicProvider.from_env(env)._deadline == 600.0
    with pytest.raises(ConfigurationError, match=r"^ORCHESTRATEX_PROVIDER_TIMEOUT_S must be a number of seconds > 0"):
        AnthropicProvider.from_env({**env, "ORCHESTRATEX_PROVIDER_TIMEOUT_S": "0"})
