"""`orchestratex serve`: the REST + WebSocket API under uvicorn."""

from __future__ import annotations

import argparse
import asyncio
import copy
import faulthandler
import gc
import os
import sys
from typing import Any

from ..exceptions import UserError
from ..stores import default_store_url
from ..telemetry import telemetry_settings

__all__ = ["serve_command"]


def serve_command(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..server import ServerSettings, create_app
        from ..server._protocol import uvicorn_options
    except ImportError:
        raise UserError("the server needs FastAPI and uvicorn: pip install 'orchestratex[server]'") from None
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be between 0 and 65535, not {args.port}")
    if args.catalog:  # checked now (a clear error, not a failed start-up); the app's Orchestrator reads it
        from .._catalog_file import CATALOG_ENV, load_catalog_file

        load_catalog_file(args.catalog)
        os.environ[CATALOG_ENV] = args.catalog
    url = args.store or default_store_url()
    settings = ServerSettings.from_env()
    telemetry_settings()  # a mistyped ORCHESTRATEX_TRACING or _LOG_CONTENT: one line, before the store is opened
    asyncio.run(_check_store(url))  # a store that cannot open is one clear line, not uvicorn's start-up traceback
    faulthandler.enable()  # a fatal signal (e.g. SIGBUS from a damaged database mapping) still leaves a trace
    app = create_app(store_url=url, settings=settings)
    state = app.state.server
    where = "simulated models (no provider key set)" if state.orchestrator.simulated else "configured providers"
    print(f"orchestratex: serving http://{args.host}:{args.port} (store {url}, {where})", file=sys.stderr, flush=True)
    print(f"orchestratex: API docs at http://{args.host}:{args.port}/docs", file=sys.stderr, flush=True)
    print(f"orchestratex: web console at http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    # The SQLite store works in its own thread; under load the event loop holds the GIL most of the time and
    # that thread would wait up to the default 5 ms switch interval for every statement. 0.5 ms keeps it moving.
    sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))
    gc.collect()
    gc.freeze()  # modules, schemas and the app live as long as the process: keep them out of every collection
    gc.set_threshold(settings.gc_threshold, *gc.get_threshold()[1:])
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=_log_config(),
        access_log=settings.access_log,
        **uvicorn_options(settings),
    )
    return 0


async def _check_store(url: str) -> None:
    from ..stores import open_store

    store = await open_store(url)
    await store.close()


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, plus the `orchestratex` loggers (resumed runs, failures) on the same handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["orchestratex"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
