"""The console's files as the server serves them (in process): the page, its scripts and styles, the
security headers, and the API's 404 for anything else."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from orchestratex.server._console import CONSOLE_DIR

from ..conftest import Api

FILES = sorted(p for p in CONSOLE_DIR.rglob("*") if p.is_file())


def test_the_page_is_served_at_the_root_with_a_strict_policy(make_api: Callable[..., Api]) -> None:
    api = make_api()
    r = api.client.get("/")  # no key: the page holds no data, it asks for a key
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/console/js/main.js">' in r.text
    head = api.client.head("/")
    assert head.status_code == 200 and head.content == b"" and head.headers["content-security-policy"] == csp


@pytest.mark.parametrize("path", [p.relative_to(CONSOLE_DIR).as_posix() for p in FILES if p.name != "index.html"])
def test_every_file_is_served_with_its_type_and_headers(make_api: Callable[..., Api], path: str) -> None:
    api = make_api()
    r = api.client.get(f"/console/{path}")
    assert r.status_code == 200
    kind = {"js": "javascript", "css": "text/css", "html": "text/html"}[path.rsplit(".", 1)[1]]
    assert kind in r.headers["content-type"]
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert r.content == (CONSOLE_DIR / path).read_bytes()


def test_every_local_reference_resolves(make_api: Callable[..., Api]) -> None:
    api = make_api()
    html = api.client.get("/").text  # (the page as served: its URLs under the root path, none here)
    assert "{{root}}" not in html
    wanted = set(re.findall(r'(?:src|href)="(/console/[^"]+)"', html))
    for script in (CONSOLE_DIR / "js").glob("*.js"):
        for name in re.findall(r'from "\./([^"]+)"', script.read_text(encoding="utf-8")):
            wanted.add(f"/console/js/{name}")
    assert len(wanted) >= 6
    for url in sorted(wanted):
        assert api.client.get(url).status_code == 200, url


@pytest.mark.parametrize(
    "path", ["/console/nothing.js", "/console/js/../../_app.py", "/console/%2e%2e/_app.py", "/nothing"]
)
def test_anything_else_answers_the_api_404(make_api: Callable[..., Api], path: str) -> None:
    api = make_api()
    r = api.client.get(path)
    assert r.status_code == 404
    assert r.json()["status_code"] == 404


@pytest.mark.parametrize("path", ["/console", "/console/", "/console/index.html"])
def test_the_console_url_a_user_guesses_sends_to_the_console(make_api: Callable[..., Api], path: str) -> None:
    """`/console` was a 307 to `/console/`, a 404 of the API (JSON), counted `unmatched` in the metrics; and
    `/console/index.html` served the page's template, its URLs `{{root}}/console/…`: no script or style loaded."""
    api = make_api()
    r = api.client.get(path, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (307, "/")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert api.client.head(path, follow_redirects=False).headers["location"] == "/"
    followed = api.client.get(path)
    assert followed.status_code == 200 and '<script type="module" src="/console/js/main.js">' in followed.text
    assert "{{root}}" not in followed.text
    metrics = api.client.get("/metrics", headers=api.admin).text
    assert f'route="{path}",status="307"' in metrics and 'route="unmatched"' not in metrics


def test_a_control_character_in_a_console_path_is_refused(make_api: Callable[..., Api]) -> None:
    api = make_api()
    r = api.client.get("/console/js/main.js%0A")
    assert r.status_code == 404 and "control character" in r.json()["detail"]


def test_the_api_still_needs_a_key_and_the_schema_omits_the_console(make_api: Callable[..., Api]) -> None:
    api = make_api()
    assert api.client.get("/api/models/").status_code == 401
    paths = api.client.get("/openapi.json").json()["paths"]
    assert "/" not in paths and not any(p.startswith("/console") for p in paths)


@pytest.mark.parametrize("path", [p for p in FILES if p.suffix in (".js", ".html")], ids=lambda p: p.name)
def test_no_text_is_ever_parsed_as_html(path: Path) -> None:
    """Data reaches the page as text only: no API that parses a string as HTML or code."""
    source = path.read_text(encoding="utf-8")
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("//"))
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", " on"):
        if sink == " on" and path.suffix == ".js":
            continue
        if sink == " on":  # inline handlers in the HTML (onclick=…) would need 'unsafe-inline'
            assert not re.search(r"\son[a-z]+=", code), path.name
            continue
        assert sink not in code, f"{path.name} uses {sink}"
    assert "style=" not in code, f"{path.name}: an inline style needs 'unsafe-inline' under the page's policy"


def test_the_page_names_its_files_and_the_api_under_the_root_path(make_api: Callable[..., Api]) -> None:
    app = make_api().client.app  # (started by that client: another one, not entered, sends requests only)
    page = TestClient(app, root_path="/ox").get("/ox/").text
    assert '<meta name="orchestratex-root" content="/ox">' in page
    assert 'src="/ox/console/js/main.js"' in page and 'href="/ox/console/console.css"' in page
    hostile = (
        TestClient(app, root_path='/a"><b>x</b>').get('/a"><b>x</b>/').text
    )  # (the operator's, escaped all the same)
    assert "<b>x" not in hostile and "&lt;b&gt;x" in hostile
