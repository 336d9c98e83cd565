"""A catalog file's endpoint whose `base_url` no HTTP client can call is refused when the file is read, naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import cli_env, run_cli

FILE = """[providers.ollama]
kind = "openai"
base_url = "{url}"

[[models]]
name = "ollama:llama3.2"
input_cost_per_1k = 0
output_cost_per_1k = 0

[[models]]
name = "ollama:qwen3"
input_cost_per_1k = 0
output_cost_per_1k = 0
"""


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "localhost:11434/v1",  # as Ollama's docs write its address
            "base_url 'localhost:11434/v1' is not an http:// or https:// URL: write it whole, e.g."
            " http://localhost:11434/v1",
        ),
        ("ftp://files.example/v1", "base_url 'ftp://files.example/v1' is not an http:// or https:// URL"),
        (" http://localhost:11434/v1", "base_url ' http://localhost:11434/v1' has white space at an end"),
        (  # (an Ollama behind basic authentication: the password is not shown)
            "ftp://bob:hunter2@ollama.example.com/v1",
            "base_url 'ftp://bob:***@ollama.example.com/v1' is not an http:// or https:// URL",
        ),
        (  # a proxy's password is not shown
            "ada:s3cr3t@proxy.example/v1",
            "base_url 'ada:***@proxy.example/v1' is not an http:// or https:// URL: write it whole, e.g."
            " http://ada:***@proxy.example/v1",
        ),
    ],
)
def test_a_base_url_without_http_is_refused_by_models_and_run(tmp_path: Path, url: str, message: str) -> None:
    """`base_url = "localhost:11434/v1"` was shown `✔ ollama: configured` and its models `ready` by `orchestratex
    models`; `run` routed to it and every call failed: "cannot reach ollama: Request URL has an unsupported protocol
    'localhost://'"."""
    path = tmp_path / "models.toml"
    path.write_text(FILE.format(url=url), encoding="utf-8")
    listed = run_cli("models", "--catalog", str(path))
    assert listed.returncode == 2 and listed.stdout == ""
    assert listed.stderr.startswith(f"orchestratex: error: {path}: providers.ollama: {message}")
    done = run_cli("run", "Hello", "--catalog", str(path), "--store", f"sqlite:///{tmp_path / 'runs.db'}")
    assert done.returncode == 2 and done.stdout == ""
    assert message in done.stderr
    assert not (tmp_path / "runs.db").exists(), "refused before any run is stored"


def test_an_http_base_url_in_any_letter_case_is_taken(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(FILE.format(url="HTTPS://ollama.example.com/v1"), encoding="utf-8")
    listed = run_cli("models", "--catalog", str(path))
    assert listed.returncode == 0, listed.stderr
    assert "✔ ollama: configured" in listed.stdout


def test_a_base_url_variable_ending_with_a_carriage_return_is_refused_by_models_and_run(tmp_path: Path) -> None:
    """`OLLAMA_BASE_URL` from a `.env` file written on Windows (`http://localhost:11434/v1\\r`): `run` ended in an
    `httpx2.InvalidURL` traceback, and `models` said the URL "is not an http:// or https:// URL: write the server's
    address with its scheme", which it was."""
    path = tmp_path / "models.toml"
    path.write_text(FILE.replace('[providers.ollama]\nkind = "openai"\nbase_url = "{url}"\n', ""), encoding="utf-8")
    env = cli_env(OLLAMA_BASE_URL="http://localhost:11434/v1\r")
    listed = run_cli("models", "--catalog", str(path), env=env)
    assert "✘ ollama: OLLAMA_BASE_URL 'http://localhost:11434/v1\\r' has white space at an end: remove it" in (
        listed.stdout
    )
    done = run_cli("run", "Hello", "--catalog", str(path), "--store", f"sqlite:///{tmp_path / 'runs.db'}", env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(
        "orchestratex: error: ollama: the base URL 'http://localhost:11434/v1\\r' (OLLAMA_BASE_URL) has white space at"
        " an end"
    )


def test_an_api_key_variable_no_header_can_carry_is_refused_by_models_and_run(tmp_path: Path) -> None:
    """`OPENAI_API_KEY=sk-…\\r` (a `.env` file written on Windows) was shown `✔ openai: configured`, and every call of
    `run` failed on "Illegal header value b'Bearer sk-…\\\\r'", the key in the run's error. The white space around a
    key is now dropped; a key with a line break inside is refused, and nothing is sent."""
    env = cli_env(OPENAI_API_KEY="sk-test\r\nsecret-4242")
    listed = run_cli("models", env=env)
    assert "✘ openai: the API key (OPENAI_API_KEY) holds a line break at character 8" in listed.stdout
    done = run_cli("run", "Hello", "--store", f"sqlite:///{tmp_path / 'runs.db'}", env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(
        "orchestratex: error: openai: the API key (OPENAI_API_KEY or api_key=) holds a line break at character 8"
    )
    assert "secret" not in listed.stdout + listed.stderr + done.stdout + done.stderr
    assert "✔ openai: configured" in run_cli("models", env=cli_env(OPENAI_API_KEY="sk-test-4242\r")).stdout


def test_a_catalog_endpoint_s_key_no_header_can_carry_is_refused_naming_its_variable(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        '[providers.router]\nkind = "openai"\nbase_url = "https://openrouter.ai/api/v1"\n'
        'api_key_env = "MY_ROUTER_KEY"\n\n'
        '[[models]]\nname = "router:meta-llama/llama-3.3-70b-instruct"\ncost_per_1k_tokens = 0.0001\n',
        encoding="utf-8",
    )
    env = cli_env(MY_ROUTER_KEY="sk-or\r\nsecret-4242")
    done = run_cli("run", "Hello", "--catalog", str(path), "--store", f"sqlite:///{tmp_path / 'runs.db'}", env=env)
    assert done.returncode == 2 and "secret" not in done.stdout + done.stderr
    assert "router: the API key (MY_ROUTER_KEY) holds a line break" in done.stderr


def test_a_catalog_endpoint_s_key_variable_of_white_space_is_no_key(tmp_path: Path) -> None:
    """`MY_ROUTER_KEY= ` (left blank, or an env file's `\\r`) counted as the key the file names: `models` said the
    endpoint was ready and `run` called it with no key at all (every call refused 401), while an empty variable was
    refused before anything ran. It is now refused the same way."""
    path = tmp_path / "models.toml"
    path.write_text(
        '[providers.router]\nkind = "openai"\nbase_url = "https://openrouter.ai/api/v1"\n'
        'api_key_env = "MY_ROUTER_KEY"\n\n'
        '[[models]]\nname = "router:a"\ncost_per_1k_tokens = 0.0001\n\n'
        '[[models]]\nname = "router:b"\ncost_per_1k_tokens = 0.0001\n',
        encoding="utf-8",
    )
    for blank in (" ", "\r"):
        env = cli_env(MY_ROUTER_KEY=blank)
        listed = run_cli("models", "--catalog", str(path), env=env)
        assert "✘ router: no key (set MY_ROUTER_KEY)" in listed.stdout, listed.stdout
        done = run_cli("run", "Hello", "--catalog", str(path), "--store", "memory://", env=env)
        assert done.returncode == 2 and done.stdout == "", done.stdout
        assert done.stderr.startswith("orchestratex: error: provider 'router' of "), done.stderr
        assert done.stderr.endswith(" needs an API key: set MY_ROUTER_KEY\n"), done.stderr
