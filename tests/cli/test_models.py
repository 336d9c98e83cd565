"""`orchestratex models`: whole lines when piped, a status column, install hints printed literally,
and the real aliases in `--json`."""

from __future__ import annotations

import json

import pytest

from orchestratex.catalog import ModelCatalog
from orchestratex.cli import main

from .conftest import cli_env, run_cli


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
    assert "✘ openai: not installed (pip install 'orchestratex[openai]')" in out
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
