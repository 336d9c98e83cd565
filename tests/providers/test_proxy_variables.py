"""A proxy of the environment (`HTTPS_PROXY`, `ALL_PROXY`, …) that the SDKs' HTTP client cannot use.

`ALL_PROXY=socks5://proxy:1080` without the socksio package, or a proxy of another scheme (`ftp://`), failed as the
provider was made, with a raw `ImportError` ("… install httpx using `pip install httpx[socks]`", a package the SDKs do
not use) or `ValueError` ("Unknown scheme for proxy URL"): `orchestratex run` printed a traceback. The provider now
refuses it with a `ConfigurationError` naming the variable, its password hidden.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable

import httpx2
import pytest

from orchestratex.exceptions import ConfigurationError
from orchestratex.providers import Provider

pytest.importorskip("orchestratex_openai")
pytest.importorskip("orchestratex_anthropic")
pytest.importorskip("orchestratex_gemini")

from orchestratex_anthropic import AnthropicProvider
from orchestratex_gemini import GeminiProvider
from orchestratex_openai import OllamaProvider, OpenAIProvider

MAKERS: dict[str, Callable[[], Provider]] = {
    "openai": lambda: OpenAIProvider(api_key="sk-test"),
    "ollama": lambda: OllamaProvider(base_url="http://localhost:11434/v1"),
    "anthropic": lambda: AnthropicProvider(api_key="sk-ant-test"),
    "gemini": lambda: GeminiProvider(api_key="AIza-test"),
}
NO_SOCKSIO = importlib.util.find_spec("socksio") is None
THROUGH_AIOHTTP = importlib.util.find_spec("aiohttp") is not None
"""Whether google-genai sends the Gemini adapter's calls through aiohttp (installed), which uses no SOCKS proxy."""


@pytest.fixture(autouse=True)
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in list(os.environ):
        if var.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(var)


@pytest.mark.skipif(not NO_SOCKSIO, reason="socksio is installed: httpx uses the SOCKS proxy")
@pytest.mark.parametrize("name", list(MAKERS))
def test_a_socks_proxy_without_socksio_is_refused_naming_the_variable(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALL_PROXY", "socks5://ada:s3cret@proxy.example:1080")
    with pytest.raises(ConfigurationError) as caught:
        MAKERS[name]()
    if name == "gemini" and THROUGH_AIOHTTP:  # (google-genai sends through aiohttp, which socksio does not help)
        assert str(caught.value) == (
            "gemini: the proxy ALL_PROXY='socks5://ada:***@proxy.example:1080' is a SOCKS proxy, which aiohttp cannot"
            " use (installed here, google-genai sends through it): pass http_client=httpx2.AsyncClient() to"
            " GeminiProvider (with the socksio package: pip install socksio), or name an http:// proxy"
        )
        return
    assert str(caught.value) == (
        f"{name}: the proxy ALL_PROXY='socks5://ada:***@proxy.example:1080' is a SOCKS proxy, which the SDK's HTTP"
        " client uses with the socksio package only: pip install socksio"
    )


@pytest.mark.parametrize("name", list(MAKERS))
def test_a_proxy_of_another_scheme_is_refused(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "ftp://ada:s3cret@proxy.example:21")
    with pytest.raises(ConfigurationError) as caught:
        MAKERS[name]()
    assert "the proxy https_proxy='ftp://ada:***@proxy.example:21' is not an http://, https:// or socks5://" in str(
        caught.value
    )


@pytest.mark.parametrize("name", list(MAKERS))
def test_usable_proxies_and_injected_clients_are_taken(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "proxy.example:3128")  # (httpx reads it as http://proxy.example:3128)
    assert MAKERS[name]().name == name
    monkeypatch.setenv("HTTPS_PROXY", "ftp://proxy.example:21")
    monkeypatch.setenv("NO_PROXY", "*")  # (no proxy at all)
    assert MAKERS[name]().name == name
    monkeypatch.delenv("NO_PROXY")
    injected = httpx2.AsyncClient(trust_env=False)
    provider = OpenAIProvider(api_key="sk-test", http_client=injected)  # (its proxies are the caller's)
    assert provider.name == "openai"


@pytest.mark.skipif(not NO_SOCKSIO, reason="socksio is installed: httpx uses the SOCKS proxy")
def test_the_cli_says_so_in_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env = {k: v for k, v in env.items() if not k.startswith("ORCHESTRATEX_") and not k.lower().endswith("_proxy")}
    env.update(OPENAI_API_KEY="sk-test", ALL_PROXY="socks5://proxy.example:1080")
    command = [sys.executable, "-m", "orchestratex", "run", "Hi", "--store", "memory://"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "ALL_PROXY='socks5://proxy.example:1080' is a SOCKS proxy" in done.stderr, done.stderr
