"""Real provider requests are blocked, and provider keys hidden, for the whole test run."""

from __future__ import annotations

from orchestratex.testing.fixtures import block_model_requests, hide_provider_variables

__all__ = ["hide_provider_variables"]

block_model_requests()
