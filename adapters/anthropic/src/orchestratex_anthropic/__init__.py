"""OrchestrateX adapter for Anthropic's Messages API.

Registered under the `orchestratex.providers` entry point as `anthropic`; the core never imports
this package (or the anthropic SDK) itself.
"""

from __future__ import annotations

try:
    import anthropic as _sdk  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError("the Anthropic adapter needs the anthropic SDK: pip install 'orchestratex[anthropic]'") from exc

from ._errors import map_anthropic_errors
from ._provider import AnthropicProvider

__all__ = ["AnthropicProvider", "map_anthropic_errors"]
