"""OrchestrateX adapter for Anthropic's Messages API.

Registered under the `orchestratex.providers` entry point as `anthropic`; the core never imports
this package (or the anthropic SDK) itself.
"""

from __future__ import annotations

from ._errors import map_anthropic_errors
from ._provider import AnthropicProvider

__all__ = ["AnthropicProvider", "map_anthropic_errors"]
