"""Real provider requests are blocked in these tests, except in the opt-in `live` tests."""

from __future__ import annotations

import orchestratex.providers

orchestratex.providers.ALLOW_MODEL_REQUESTS = False
