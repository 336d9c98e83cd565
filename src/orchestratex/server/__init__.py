"""The REST + WebSocket API of OrchestrateX (`pip install 'orchestratex[server]'`).

```python
from orchestratex.server import create_app

app = create_app()  # uvicorn serves it: `orchestratex serve` does exactly this
```
"""

from __future__ import annotations

from . import _requires  # noqa: F401  (first: a module of the `server` extra missing is one clear line)
from ._app import ServerState, create_app
from ._auth import Principal, hash_key, issue_api_key
from ._openai_presets import Preset
from ._settings import ServerSettings
from ._ws import CLOSE_KEY_REVOKED, CLOSE_SESSION_ENDED, CLOSE_SINCE_PAST_END, CLOSE_TOO_SLOW

__all__ = [
    "CLOSE_KEY_REVOKED",
    "CLOSE_SESSION_ENDED",
    "CLOSE_SINCE_PAST_END",
    "CLOSE_TOO_SLOW",
    "Preset",
    "Principal",
    "ServerSettings",
    "ServerState",
    "create_app",
    "hash_key",
    "issue_api_key",
]
