"""OrchestrateX adapter for Google's Gemini API (the google-genai SDK).

Registered under the `orchestratex.providers` entry point as `gemini`; the core never imports this
package (or google-genai) itself.
"""

from __future__ import annotations

try:
    import google.genai as _sdk  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError("the Gemini adapter needs the google-genai SDK: pip install 'orchestratex[gemini]'") from exc

from ._errors import map_gemini_errors
from ._provider import GeminiProvider

__all__ = ["GeminiProvider", "map_gemini_errors"]
