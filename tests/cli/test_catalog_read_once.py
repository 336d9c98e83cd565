"""A command reads its catalog file once: the orchestrator gets the catalog read, not the path to read again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestratex import _catalog_live
from orchestratex.cli import main

CATALOG = (
    'include_default = false\n[[models]]\nname = "sim:a"\ncost_per_1k_tokens = 0.001\n'
    '[[models]]\nname = "sim:b"\ncost_per_1k_tokens = 0.002\n'
)


@pytest.fixture
def reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The catalog file's reads; the file is `models.toml` in `tmp_path`."""
    (tmp_path / "models.toml").write_text(CATALOG, encoding="utf-8")
    done: list[Path] = []
    read = _catalog_live.read_catalog_file

    def counted(path: Path) -> dict[str, object]:
        done.append(path)
        return read(path)

    monkeypatch.setattr(_catalog_live, "read_catalog_file", counted)
    monkeypatch.setattr("orchestratex._catalog_file.read_catalog_file", counted)
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    return done


@pytest.mark.parametrize("how", ["variable", "option"])
@pytest.mark.parametrize("provider", [[], ["--provider", "sim"]])
def test_run_reads_the_catalog_file_once(
    how: str,
    provider: list[str],
    reads: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = str(tmp_path / "models.toml")
    if how == "variable":
        monkeypatch.setenv("ORCHESTRATEX_CATALOG", path)
    given = ["--catalog", path] if how == "option" else []
    assert main(["run", "hi there", "--json", "--store", "memory://", *given, *provider]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["final_model"] in ("sim:a", "sim:b")
    assert len(reads) == 1, reads


def test_models_reads_the_variables_catalog_file_once(
    reads: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ORCHESTRATEX_CATALOG", str(tmp_path / "models.toml"))
    assert main(["models", "--json"]) == 0
    assert [m["name"] for m in json.loads(capsys.readouterr().out)["models"]] == ["sim:a", "sim:b"]
    assert len(reads) == 1, reads


def test_a_bad_file_named_by_the_variable_still_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[models]\n", encoding="utf-8")
    monkeypatch.setenv("ORCHESTRATEX_CATALOG", str(bad))
    assert main(["run", "hi there", "--store", "memory://"]) == 2
    err = capsys.readouterr().err
    assert "ORCHESTRATEX_CATALOG" in err and len(err.strip().splitlines()) == 1, err
