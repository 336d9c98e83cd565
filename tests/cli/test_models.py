"""`orchestratex models`: whole lines when piped, a status column, install hints printed literally,
and the real aliases in `--json`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len

from orchestratex.catalog import ModelCatalog
from orchestratex.cli import main
from orchestratex.providers._registry import install_hint

from .conftest import cli_env, on_a_terminal, run_cli, screen_lines


def test_piped_table_is_whole_with_a_status_column() -> None:
    done = run_cli("models")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("model "))
    assert header.split() == [
        "model",
        "aliases",
        "status",
        "in",
        "$/1M",
        "out",
        "$/1M",
        "context",
        "max",
        "out",
        "specialties",
    ]
    rows = lines[lines.index(header) + 1 :]
    catalog = ModelCatalog.default()
    assert [r.split()[0] for r in rows] == [m.name for m in catalog]
    assert max(len(r) for r in rows) > 80, "a pipe is not cut at 80 columns"
    for row, model in zip(rows, catalog, strict=True):
        assert row.endswith(", ".join(model.specialties))
        assert " no key " in row
    assert not any(c in done.stdout for c in "│┃━…")


def test_a_configured_provider_shows_ready() -> None:
    done = run_cli("models", env=cli_env(ANTHROPIC_API_KEY="sk-test"))
    rows = [r for r in done.stdout.splitlines() if r.startswith("anthropic:")]
    assert rows and all(" ready " in r for r in rows)
    assert "✔ anthropic: configured" in done.stdout


def test_install_hint_keeps_its_brackets(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import orchestratex.cli._models as models

    monkeypatch.setattr(models, "provider_names", lambda: ["sim", "anthropic", "gemini"])
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert f"✘ openai: not installed ({install_hint('openai')})" in out
    assert " not installed " in next(r for r in out.splitlines() if r.startswith("openai:gpt-4.1 "))


def test_json_has_each_models_aliases_and_status() -> None:
    data = json.loads(run_cli("models", "--json").stdout)
    by_name = {m["name"]: m for m in data["models"]}
    catalog = ModelCatalog.default()
    for alias, target in catalog.aliases.items():
        assert alias in by_name[target]["aliases"]
    assert "gpt4" in by_name["openai:gpt-4.1"]["aliases"]
    assert all(m["provider_status"] == "no key" for m in data["models"])
    assert data["aliases"] == catalog.aliases


def test_a_catalog_endpoint_whose_adapter_is_not_installed_is_not_ready(tmp_path: Path) -> None:
    """`kind = "nonexistent"`: `run` refuses such a file, so `models` must not call it configured nor ready."""
    path = tmp_path / "k.toml"
    path.write_text(
        'include_default = false\n[providers.foo]\nkind = "nonexistent"\nbase_url = "http://127.0.0.1:18141/v1"\n'
        '[providers.bar]\nkind = "openai"\nbase_url = "http://127.0.0.1:18142/v1"\napi_key_env = "BAR_TEST_KEY"\n'
        + "".join(f'[[models]]\nname = "{n}"\ninput_cost_per_1k = 0\noutput_cost_per_1k = 0\n' for n in MODELS),
        encoding="utf-8",
    )
    done = run_cli("models", "--catalog", str(path))
    assert done.returncode == 0, done.stderr
    assert "✘ foo: not installed (no installed package provides the adapter 'nonexistent')" in done.stdout
    assert "✘ bar: no key (set BAR_TEST_KEY)" in done.stdout
    assert "refuses this catalog file until foo, bar can be used" in done.stdout
    rows = {r.split()[0]: r for r in done.stdout.splitlines() if r.startswith(("foo:", "bar:"))}
    assert [rows[n].split()[1:3] for n in MODELS] == [["not", "installed"]] * 2 + [["no", "key"]]
    data = json.loads(run_cli("models", "--json", "--catalog", str(path)).stdout)
    assert data["simulated"] is False, "a run with this file is refused, not simulated"
    assert [m["provider_status"] for m in data["models"]] == ["not installed", "not installed", "no key"]
    ran = run_cli("run", "hi", "--catalog", str(path), "--store", f"sqlite:///{tmp_path / 'r.db'}")
    assert ran.returncode == 2 and ("'nonexistent'" in ran.stderr or "BAR_TEST_KEY" in ran.stderr), ran.stderr
    keyed = run_cli("models", "--catalog", str(path), env=cli_env(BAR_TEST_KEY="k"))
    assert "✔ bar: configured" in keyed.stdout


MODELS = ("foo:a", "foo:b", "bar:c")


def test_a_catalog_endpoint_run_could_not_build_is_not_ready(tmp_path: Path) -> None:
    """`kind = "openai"` with neither `base_url` nor `api_key_env`: OpenAI's own server needs a key the file does not
    name, so `run` refuses the file; `models` says why, in the words `run` uses."""
    path = tmp_path / "k.toml"
    path.write_text(
        'include_default = false\n[providers.mine]\nkind = "openai"\n'
        + "".join(f'[[models]]\nname = "mine:{n}"\ninput_cost_per_1k = 0\noutput_cost_per_1k = 0\n' for n in "ab"),
        encoding="utf-8",
    )
    done = run_cli("models", "--catalog", str(path), env=cli_env(OPENAI_API_KEY=""))
    assert done.returncode == 0, done.stderr
    assert "✘ mine: " in done.stdout and 'set api_key_env = "VARIABLE"' in done.stdout
    assert "refuses this catalog file until mine can be used" in done.stdout
    ran = run_cli("run", "hi", "--catalog", str(path), "--store", "memory://", env=cli_env(OPENAI_API_KEY=""))
    assert ran.returncode == 2 and 'set api_key_env = "VARIABLE"' in ran.stderr


def test_token_counts_are_in_thousands(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        'include_default = false\n[[models]]\nname = "sim:a"\ncost_per_1k_tokens = 0\ncontext_window = 128000\n'
        'max_output_tokens = 16384\n[[models]]\nname = "sim:b"\ncost_per_1k_tokens = 0\ncontext_window = 131072\n',
        encoding="utf-8",
    )
    done = run_cli("models", "--catalog", str(path))
    assert done.returncode == 0, done.stderr
    row_a = next(r for r in done.stdout.splitlines() if r.startswith("sim:a "))
    row_b = next(r for r in done.stdout.splitlines() if r.startswith("sim:b "))
    assert row_a.split()[-2:] == ["128K", "16K"]  # K = 1,000 everywhere (128,000 was shown as 125K)
    assert row_b.split()[-2:] == ["131K", "4K"]


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
@pytest.mark.parametrize("columns", [40, 60, 72, 80, 100, 200])
def test_on_a_terminal_the_table_is_whole_at_any_common_width(columns: int) -> None:
    """On 80 columns the boxed table squeezed aliases and specialties to nothing and cut every status to "no k…".
    Under about 78 columns (a split pane, a phone) the narrow table cut every figure ("8…", "no…") and the
    specialties' heading ("specialti…"): there each model is now a few wrapped lines."""
    listed = json.loads(run_cli("models", "--json").stdout)["models"]
    screen = on_a_terminal(["models"], cli_env(COLUMNS=str(columns), TERM="xterm-256color"))
    lines = screen_lines(screen)
    table = lines[lines.index("Model catalog (US$ per 1M tokens)") :]  # (the lines above are whole: the terminal wraps)
    assert max(cell_len(line) for line in table) <= columns
    words = " ".join(lines).replace(",", " ").split()
    for model in listed:
        assert model["name"] in words and model["provider_status"] in " ".join(lines)
        for word in [*model["aliases"], *model["specialties"]]:
            assert word in words, (model["name"], word)
    assert "…" not in screen[screen.index("Model catalog") :], "no cell is cut"


def test_a_base_url_variable_without_http_is_not_shown_configured() -> None:
    """`OPENAI_BASE_URL=localhost:11434/v1` was shown `✔ openai: configured`, its models `ready`, while every call of
    a run failed (now `run` refuses it): the state says what is wrong with the variable."""
    env = cli_env(OPENAI_BASE_URL="localhost:11434/v1")
    done = run_cli("models", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        "✘ openai: OPENAI_BASE_URL 'localhost:11434/v1' is not an http:// or https:// URL: write it whole, e.g. "
        "http://localhost:11434/v1"
    )
    assert "offline simulator" not in done.stdout, "run does not simulate: it refuses the variable"
    listed = json.loads(run_cli("models", "--json", env=env).stdout)
    assert listed["simulated"] is False
    assert {m["provider_status"] for m in listed["models"] if m["provider"] == "openai"} == {"no key"}
    provider = run_cli("run", "Hello", "--provider", "openai", env=env)
    assert provider.returncode == 2 and "OPENAI_BASE_URL 'localhost:11434/v1' is not an http://" in provider.stderr


@pytest.mark.parametrize(
    ("key", "var"), [("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"), ("GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL")]
)
def test_an_anthropic_or_gemini_base_url_without_http_is_not_shown_configured(key: str, var: str) -> None:
    """`ANTHROPIC_BASE_URL=localhost:4000` (or `GOOGLE_GEMINI_BASE_URL`) was shown `✔ anthropic: configured` and its
    models `ready`, while `run` tried every model in turn, each failing as a retried connection error ("unsupported
    protocol 'localhost://'"). `run` now refuses the variable at once, and `models` says what is wrong with it."""
    env = cli_env(**{key: "test-key", var: "localhost:4000"})
    done = run_cli("models", env=env)
    assert done.returncode == 0, done.stderr
    provider = "anthropic" if key.startswith("ANTHROPIC") else "gemini"
    assert f"✘ {provider}: {var} 'localhost:4000' is not an http:// or https:// URL" in done.stdout
    for given in (["--provider", provider], []):  # (without --provider: the orchestrator's providers from the env)
        run = run_cli("run", "Hello", *given, "--store", "memory://", env=env)
        assert run.returncode == 2, run.stdout + run.stderr
        assert var in run.stderr and "'localhost:4000'" in run.stderr and "http://" in run.stderr, run.stderr
        assert "ProviderConnectionError" not in run.stdout + run.stderr


def test_a_base_url_variable_in_quotes_is_said_to_be() -> None:
    """`OPENAI_BASE_URL="http://localhost:11434/v1"` in a docker `--env-file` keeps its quotes: `run` said the URL
    "does not start with http://…; write it whole, e.g. http://localhost:11434/v1"" (the quote kept in the example)
    and `models` that it "is not an http:// URL". Both now say it is in quotes."""
    env = cli_env(OPENAI_BASE_URL='"http://localhost:11434/v1"')
    done = run_cli("models", env=env)
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.splitlines()[0]
        == "✘ openai: OPENAI_BASE_URL '\"http://localhost:11434/v1\"' is in quotes: remove them, 'http://localhost:11434/v1'"
    )
    run = run_cli("run", "Hello", "--provider", "openai", "--store", "memory://", env=env)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "OPENAI_BASE_URL '\"http://localhost:11434/v1\"' is in quotes: remove them" in run.stderr, run.stderr
    from orchestratex.exceptions import ConfigurationError
    from orchestratex.providers._support import checked_base_url

    with pytest.raises(ConfigurationError, match="is in quotes: remove them, 'http://localhost:11434/v1'"):
        checked_base_url("'http://localhost:11434/v1'", provider="openai", where="base_url")
