"""One check of a base URL (`base_url_problem`), worded by each place that takes one: an adapter's `base_url=` or
variable, `orchestratex models` (the variables), and a catalog file's `[providers.NAME]`.

The three checked in three ways, with three wordings: a URL naming the endpoint
(`OPENAI_BASE_URL=http://localhost:11434/v1/chat/completions`) was shown `✔ openai: configured` by `models` while
`run` refused it, and a catalog file's `base_url` with a space inside, a slash short (`http:/localhost:11434/v1`) or
in quotes passed the file's check and failed only when a run built the provider.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestratex.exceptions import ConfigurationError
from orchestratex.providers._support import base_url_problem, checked_base_url

pytest.importorskip("orchestratex_openai")

from orchestratex_openai import OpenAIProvider

BAD = [
    "localhost:11434/v1",
    "http:/localhost:11434/v1",
    "http://localhost:11434/ v1",
    "http://localhost:11434/v1\r",
    "'http://localhost:11434/v1'",
    "http://localhost:11434/v1/chat/completions",
    # Azure's portal shows a deployment's "target URI" with its query: it was taken, and every call went to
    # `…/chat/completions/chat/completions?api-version=…` (404)
    "https://contoso.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
    "https://contoso.openai.azure.com/",  # (an Azure resource's endpoint, without its API's `/openai/…` path)
]


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    clean = {k: v for k, v in clean.items() if not k.startswith("ORCHESTRATEX_")}
    command = [sys.executable, "-m", "orchestratex", *args]
    return subprocess.run(command, env={**clean, **env}, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("url", BAD)
def test_every_place_finds_the_same_problem(url: str, tmp_path: Path) -> None:
    problem = base_url_problem(url, endpoint="/chat/completions")
    assert problem is not None
    with pytest.raises(ConfigurationError) as built:
        OpenAIProvider(api_key="sk-test", base_url=url)
    assert str(built.value).endswith(f"(base_url) {problem}"), built.value
    shown = repr(url)
    models = cli("models", OPENAI_BASE_URL=url)
    assert models.stdout.splitlines()[0] == f"✘ openai: OPENAI_BASE_URL {shown} {problem}", (
        models.stdout + models.stderr
    )
    catalog = tmp_path / "models.toml"
    escaped = url.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r")
    catalog.write_text(f'[providers.local]\nkind = "openai"\nbase_url = "{escaped}"\n', encoding="utf-8")
    from_file = cli("models", "--catalog", str(catalog))
    assert from_file.returncode == 2, from_file.stdout
    assert f"providers.local: base_url {shown} {problem}" in from_file.stderr, from_file.stderr


def test_a_base_url_naming_the_endpoint_is_not_shown_configured() -> None:
    done = cli("models", OPENAI_BASE_URL="http://localhost:11434/v1/chat/completions")
    assert done.stdout.splitlines()[0] == (
        "✘ openai: OPENAI_BASE_URL 'http://localhost:11434/v1/chat/completions' names the endpoint; write the API"
        " root, http://localhost:11434/v1 (calls add /chat/completions)"
    )


def test_only_openai_served_urls_may_not_name_their_endpoint() -> None:
    assert base_url_problem("https://gw.example/v1/chat/completions") is None
    assert base_url_problem("http://localhost:11434/v1", endpoint="/chat/completions") is None
    checked_base_url("https://gw.example/anthropic", provider="anthropic", where="base_url")


@pytest.mark.parametrize("kind", ["openai", "ollama"])
def test_a_catalog_endpoint_naming_the_endpoint_is_refused_when_the_file_is_read(kind: str, tmp_path: Path) -> None:
    catalog = tmp_path / "models.toml"
    url = "http://localhost:11434/v1/chat/completions"
    catalog.write_text(f'[providers.local]\nkind = "{kind}"\nbase_url = "{url}"\n', encoding="utf-8")
    done = cli("models", "--catalog", str(catalog))
    assert done.returncode == 2, done.stdout
    assert f"providers.local: base_url '{url}' names the endpoint; write the API root" in done.stderr, done.stderr


def test_an_endpoint_url_with_a_query_is_told_its_api_root_with_the_query() -> None:
    target = "https://contoso.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    with pytest.raises(ConfigurationError) as raised:
        OpenAIProvider(api_key="azure-key", base_url=target)
    assert "write the API root, https://contoso.openai.azure.com/openai/deployments/gpt-4o?api-version=2024-10-21" in (
        str(raised.value)
    )
