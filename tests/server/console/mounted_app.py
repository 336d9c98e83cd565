"""The server mounted under `/ox` in another ASGI app, as behind a proxy that serves it under a path prefix:
`uvicorn --factory --app-dir tests/server/console mounted_app:create` (the store from `ORCHESTRATEX_STORE_URL`).
`/health` answers at the root too, for `ServerProcess`'s wait."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from orchestratex.server import create_app

PREFIX = "/ox"


def create() -> Starlette:
    inner = create_app()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with inner.router.lifespan_context(inner):  # (a mount does not run its app's lifespan)
            yield

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/health", health), Mount(PREFIX, app=inner)], lifespan=lifespan)
