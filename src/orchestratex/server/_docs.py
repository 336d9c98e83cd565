"""The API docs, `/docs` (Swagger UI) and `/redoc`, with their files served by this app (shipped by the
`fastapi-offline` package): they work with no Internet access. Who may read them and `/openapi.json` follows
the `docs` setting (`DocsAccess`).

Their pages carry a Content-Security-Policy that lets the browser load nothing from another host:
ReDoc's bundle asks for its logo from a CDN (`https://cdn.redoc.ly/redoc/logo-mini.svg`), which the
browser then never requests. Each page's own inline script is allowed by its hash, no other.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from starlette.requests import HTTPConnection
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from ._auth import Authenticator, key_of, no_key_reason
from ._auth_limit import client_address
from ._errors import ApiError, error_response
from ._paths import route_path

__all__ = ["DOCS_ASSETS", "DocsAccess", "docs_csp", "install_docs"]

DOCS_ASSETS = "/_docs"
"""Where Swagger UI's and ReDoc's files are served from."""

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_csp(html: str) -> str:
    """The Content-Security-Policy of a docs page: scripts, styles, fonts, images and requests from this server only
    (images also as `data:` URLs, styles also inline, as both bundles insert them), web workers from this server or
    the page itself (`blob:`: ReDoc's search), and the page's own inline scripts by their SHA-256."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'none'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'self'"
    )


class _Page:
    """A docs page with its Content-Security-Policy, built once (it is the same for every request)."""

    def __init__(self, html: HTMLResponse) -> None:
        self.text = bytes(html.body).decode()
        self.headers = {"Content-Security-Policy": docs_csp(self.text), "X-Content-Type-Options": "nosniff"}

    def response(self) -> HTMLResponse:
        return HTMLResponse(self.text, headers=self.headers)


def install_docs(app: FastAPI, title: str) -> None:
    """`/docs` (Swagger UI) and `/redoc` with their files served by this app, so they work offline. Their URLs
    start with the request's root path (uvicorn's `--root-path`, a mount), as FastAPI's own docs pages' do."""
    static = resources.files("fastapi_offline") / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(static)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2 = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"
    built: dict[str, dict[str, _Page]] = {}

    def pages(root: str) -> dict[str, _Page]:
        """The pages with their URLs under the root path `root` (built once per root path)."""
        found = built.get(root)
        if found is not None:
            return found
        assets = f"{root}{DOCS_ASSETS}"
        found = {
            "swagger": _Page(
                get_swagger_ui_html(
                    openapi_url=f"{root}{openapi_url}",
                    title=f"{title} - Swagger UI",
                    oauth2_redirect_url=f"{root}{oauth2}",
                    swagger_js_url=f"{assets}/swagger-ui-bundle.js",
                    swagger_css_url=f"{assets}/swagger-ui.css",
                    swagger_favicon_url=f"{assets}/favicon.png",
                )
            ),
            "redirect": _Page(get_swagger_ui_oauth2_redirect_html()),
            "redoc": _Page(
                get_redoc_html(
                    openapi_url=f"{root}{openapi_url}",
                    title=f"{title} - ReDoc",
                    redoc_js_url=f"{assets}/redoc.standalone.js",
                    redoc_favicon_url=f"{assets}/favicon.png",
                    with_google_fonts=False,
                )
            ),
        }
        if len(built) < 16:  # (a root path is the server's setting or a mount's, not the client's: a few at most)
            built[root] = found
        return found

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return pages(request.scope.get("root_path", ""))["swagger"].response()

    @app.get(oauth2, include_in_schema=False)
    async def swagger_ui_redirect(request: Request) -> HTMLResponse:
        return pages(request.scope.get("root_path", ""))["redirect"].response()

    @app.get("/redoc", include_in_schema=False)
    async def redoc_page(request: Request) -> HTMLResponse:
        return pages(request.scope.get("root_path", ""))["redoc"].response()


_PAGES = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
_SCHEMA = "/openapi.json"


class DocsAccess:
    """`/openapi.json`, the docs pages and their files as the `docs` setting says: `key` asks a valid key for the
    schema and answers 404 for the pages (a browser loads them without a key); `off` answers 404 for all."""

    def __init__(self, app: ASGIApp, access: Literal["key", "off"], authenticator: Authenticator) -> None:
        self.app = app
        self.access = access
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = route_path(scope) if scope["type"] == "http" else ""
        if path == _SCHEMA and self.access == "key":
            try:
                connection = HTTPConnection(scope)
                await self.authenticator.principal(
                    key_of(connection), client_address(scope), missing=no_key_reason(connection)
                )
            except ApiError as exc:
                await error_response(exc.status_code, str(exc.detail), exc.headers)(scope, receive, send)
                return
        elif path == _SCHEMA or path in _PAGES or path.startswith(DOCS_ASSETS + "/"):
            detail = (
                "the API docs are switched off (ORCHESTRATEX_DOCS=off)"
                if self.access == "off"
                else f"the API docs pages are off (ORCHESTRATEX_DOCS=key): fetch {_SCHEMA} with an API key"
            )
            await error_response(404, detail)(scope, receive, send)
            return
        await self.app(scope, receive, send)
