"""The web console: `GET /` serves a static page, `/console/...` its scripts and styles.

The files ship in the package (`orchestratex/server/console/`): plain HTML, CSS and JavaScript
modules, no CDN and no build step. The page holds no data of its own: it logs in with an API key
and reads everything through the REST API and the WebSocket, as any other client does. Its
answers carry a strict Content-Security-Policy (scripts and styles from this server only, no
inline code), so text from the API can never run as code even if a rendering bug let it through.
"""

from __future__ import annotations

import html
from functools import cache
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONSOLE_CSP", "SECURITY_HEADERS", "install_console"]

CONSOLE_DIR = Path(str(resources.files("orchestratex.server").joinpath("console")))
"""Where the console's files are installed."""

CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The page may load scripts, styles and images from this server only and talk to its API and WebSocket."""

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONSOLE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
"""Headers of every console answer (`no-cache`: revalidated, so an upgraded server serves its own files)."""

router = APIRouter(include_in_schema=False)


ROOT_PLACEHOLDER = "{{root}}"
"""Where `index.html` names the path the app is served under: its files' URLs and the meta tag the scripts read
(`orchestratex-root`) to reach the API and the WebSocket behind a path prefix (uvicorn's `--root-path`, a mount)."""


@cache
def _page_template() -> str:
    return (CONSOLE_DIR / "index.html").read_text(encoding="utf-8")


@router.api_route("/", methods=["GET", "HEAD"])
async def console_page(request: Request) -> HTMLResponse:
    """The console's single page, its URLs under the app's root path."""
    root = html.escape(request.scope.get("root_path", "").rstrip("/"), quote=True)
    page = _page_template().replace(ROOT_PLACEHOLDER, root)
    return HTMLResponse(page, headers=SECURITY_HEADERS)


@router.api_route("/console", methods=["GET", "HEAD"])
@router.api_route("/console/", methods=["GET", "HEAD"])
@router.api_route("/console/index.html", methods=["GET", "HEAD"])
async def console_elsewhere(request: Request) -> RedirectResponse:
    """`/console`, the URL a user guesses from the files' (`/console/…`), sends to the console at `/`: it was a 307 to
    `/console/`, itself a 404 of the API, and counted as `unmatched` in the metrics. So does `/console/index.html`,
    which served the page's template as a static file: its `{{root}}` left in every URL, the page loaded neither its
    scripts nor its styles (a bare form that did nothing)."""
    return RedirectResponse(f"{request.scope.get('root_path', '').rstrip('/')}/", headers=SECURITY_HEADERS)


class _SecuredStatic:
    """The console's static files, each answer with `SECURITY_HEADERS` added."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode("latin-1") not in present:
                        headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_secured)


def install_console(app: FastAPI) -> None:
    """Serve the console at `/` (`/console` sends there) and its files under `/console/` (missing files get the API's
    404 body)."""
    app.include_router(router)
    app.mount("/console", _SecuredStatic(StaticFiles(directory=CONSOLE_DIR)), name="console")
