"""The modules of the `server` extra that `create_app` imports, checked when `orchestratex.server` is.

One of them missing (FastAPI installed for another project, the rest not) is an `ImportError` naming it
and the install command, not a `ModuleNotFoundError` from inside `create_app`. uvicorn is not needed
here (any ASGI server serves the app): `orchestratex serve` checks it.
"""

from __future__ import annotations

from importlib.util import find_spec

_MODULES = {"fastapi": "fastapi", "prometheus_client": "prometheus-client", "fastapi_offline": "fastapi-offline"}

_missing = [dist for module, dist in _MODULES.items() if find_spec(module) is None]
if _missing:
    raise ImportError(
        f"orchestratex.server needs {' and '.join(_missing)} (not installed): pip install 'orchestratex[server]'"
    )
