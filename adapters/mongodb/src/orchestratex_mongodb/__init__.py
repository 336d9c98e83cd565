"""orchestratex-mongodb: a MongoDB `Store` for OrchestrateX on PyMongo's native async API.

```python
from orchestratex.stores import open_store

store = await open_store("mongodb://localhost:27017/orchestratex")  # or MongoStore(url), then `await store.open()`
```

Installing the package registers `MongoStore` under the `orchestratex.stores` entry point, so
`--store mongodb://…` (and `mongodb+srv://…`) works in the CLI and the server.
"""

from __future__ import annotations

try:
    import pymongo as _driver  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError("the MongoDB store needs PyMongo: pip install 'orchestratex[mongodb]'") from exc

from ._errors import redact_url
from ._store import MongoStore

__all__ = ["MongoStore", "redact_url"]
