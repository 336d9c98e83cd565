"""`orchestratex.providers._proxies`: which of the environment's proxies carries a request, as httpx decides it.

The Gemini adapter hands aiohttp the proxy httpx would use, and connection errors name the proxy a request went
through. `NO_PROXY` was matched by host name alone: an entry with a port (`localhost:8080`), an IP network
(`10.0.0.0/8`), `[::1]` or `*.example.com` bypassed nothing, and `.example.com` bypassed `example.com` itself, where
httpx decides otherwise. Each case is checked against httpx2's own reading of the same environment.
"""

from __future__ import annotations

import httpx2
import pytest
from httpx2._utils import URLPattern, get_environment_proxies

from orchestratex.providers._http_errors import environment_proxy
from orchestratex.providers._proxies import proxy_for

VARIABLES = ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy")

NO_PROXY = [
    "example.com",
    ".example.com",
    "*.example.com",
    "example.com:8443",
    "localhost",
    "localhost:8080",
    "127.0.0.1",
    "127.0.0.1:8080",
    "10.0.0.0/8",
    "10.1.2.3/32",
    "::1",
    "[::1]",
    "[::1]:8080",
    "fd00::/8",
    "http://example.com",
    "https://example.com:8443",
    "10.0.0.0/x",
    "example.com/path",
    "other.test, example.com:8443",
    "*",
    "",
]
URLS = [
    "https://example.com",
    "https://example.com:443",
    "https://www.example.com",
    "https://wwwexample.com",
    "https://example.com:8443",
    "http://example.com",
    "http://localhost:8080",
    "http://localhost:11434",
    "http://sub.localhost:8080",
    "http://127.0.0.1:8080",
    "http://127.0.0.1",
    "http://10.20.30.40:8000",
    "http://10.1.2.3",
    "http://[::1]:8080",
    "http://[fd00::5]:8000",
    "https://generativelanguage.googleapis.com",
]


def httpx_proxy(url: str) -> str | None:
    """The proxy httpx2 sends a request to `url` through, with the environment as it is (its client's own steps:
    the mounts of `get_environment_proxies`, most specific first, the first matching)."""
    mounts = sorted((URLPattern(key), proxy) for key, proxy in get_environment_proxies().items())
    return next((proxy for pattern, proxy in mounts if pattern.matches(httpx2.URL(url))), None)


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in VARIABLES:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://plain-proxy.test:3128")
    monkeypatch.setenv("ALL_PROXY", "http://all-proxy.test:3128")
    return monkeypatch


@pytest.mark.parametrize("no_proxy", NO_PROXY)
def test_no_proxy_is_matched_as_httpx_matches_it(no_proxy: str, environment: pytest.MonkeyPatch) -> None:
    environment.setenv("NO_PROXY", no_proxy)
    for url in URLS:
        found = environment_proxy(url)
        said = None if found is None else found[1] if "://" in found[1] else f"http://{found[1]}"
        assert said == httpx_proxy(url), f"NO_PROXY={no_proxy!r}, {url}"


@pytest.mark.parametrize(
    ("no_proxy", "url", "bypassed"),
    [
        ("example.com:8443", "https://example.com:8443", True),
        ("example.com:8443", "https://example.com", False),
        ("localhost:8080", "http://localhost:8080", True),
        ("localhost:8080", "http://localhost:11434", False),
        ("10.0.0.0/8", "http://10.20.30.40:8000", True),
        ("[::1]:8080", "http://[::1]:8080", True),
        ("*.example.com", "https://www.example.com", True),
        (".example.com", "https://example.com", False),
        ("example.com", "https://example.com", True),
        ("example.com", "https://wwwexample.com", False),
    ],
)
def test_what_the_entries_bypass(no_proxy: str, url: str, bypassed: bool) -> None:
    """The cases this was written for, spelt out (the comparison above checks them against httpx)."""
    proxies = {"all": "http://proxy.test:3128", "no": no_proxy}
    assert proxy_for(url, proxies) == (None if bypassed else "all")


def test_the_variable_named_is_the_one_httpx_uses(environment: pytest.MonkeyPatch) -> None:
    assert environment_proxy("http://example.com") == ("HTTP_PROXY", "http://plain-proxy.test:3128")
    assert environment_proxy("https://example.com") == ("ALL_PROXY", "http://all-proxy.test:3128")
