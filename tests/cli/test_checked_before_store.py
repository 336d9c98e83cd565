"""`orchestratex run` refuses a run its checks refuse (an unknown `--models`, a misspelt `--domain`, and the rest)
before it opens its store: a mistyped `--store` path is not created, an empty database left there."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import PROMPT, run_cli


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--models", "bogus"], "unknown model 'bogus'"),
        (["--domain", "codeing"], "looks like 'coding' misspelt"),
        (["--models", "gpt4,bogus"], "unknown model 'bogus'"),
    ],
)
def test_a_refused_run_creates_no_store(tmp_path: Path, options: list[str], said: str) -> None:
    typo = tmp_path / "sotre" / "runs.db"
    proc = run_cli("run", PROMPT, *options, "--store", f"sqlite:///{typo}")
    assert proc.returncode == 2, proc.stderr
    assert said in proc.stderr
    assert not typo.parent.exists()


def test_an_accepted_run_still_creates_its_store(tmp_path: Path) -> None:
    db = tmp_path / "new" / "runs.db"
    proc = run_cli("run", PROMPT, "--models", "gpt4", "--max-iterations", "1", "--store", f"sqlite:///{db}")
    assert proc.returncode in (0, 1), proc.stderr
    assert db.is_file()
