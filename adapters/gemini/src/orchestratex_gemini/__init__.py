"""OrchestrateX adapter for Google's Gemini API (the google-genai SDK).

Registered under the `orchestratex.providers` entry point as `gemini`; the core never imports this
package (or google-genai) itself.
"""

from __future__ import annotations

from ._errors import map_gemini_errors
from ._provider import GeminiProvider

__all__ = ["GeminiProvider", "map_gemini_errors"]
