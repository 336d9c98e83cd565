"""Real provider requests are blocked in these tests, except in the opt-in `live` tests, and the
developer's provider variables are hidden from every other test so results do not depend on them."""

from __future__ import annotations

from orchestratex.testing.fixtures import block_model_requests, hide_provider_variables

__all__ = ["hide_provider_variables"]

block_model_requests()
