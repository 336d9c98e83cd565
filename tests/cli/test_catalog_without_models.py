"""A catalog file that lists no model (`include_default = false`, and no `models` yet): `run` failed with the
library's hint to build `Orchestrator(providers=[...], catalog=ModelCatalog([...]))` in Python, `models` showed an
empty table under "`orchestratex run` uses the offline simulator", and `serve` started, to fail every request. Each now
refuses the file in one line naming it (exit code 2). Real processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import cli_env, run_cli

NO_MODEL = "lists no model: it sets include_default = false and names none under models; add your models"


@pytest.mark.parametrize(
    ("name", "text"),
    [("models.toml", "include_default = false\n"), ("models.json", '{"include_default": false, "models": []}')],
)
@pytest.mark.parametrize(
    "command", [["run", "Explain DNS", "--max-iterations", "1"], ["models"], ["serve", "--port", "0"]]
)
def test_a_catalog_file_without_models_is_refused_naming_it(
    tmp_path: Path, name: str, text: str, command: list[str]
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    store = ["--store", f"sqlite:///{tmp_path / 'runs.db'}"] if command[0] != "models" else []
    done = run_cli(*command, "--catalog", str(path), *store)
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert done.stderr.startswith(f"orchestratex: error: catalog file '{path}' {NO_MODEL}"), done.stderr
    assert done.stderr.count("\n") == 1 and "Orchestrator(" not in done.stderr
    assert not (tmp_path / "runs.db").exists()


def test_the_catalog_of_the_variable_says_so(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text("include_default = false\n", encoding="utf-8")
    done = run_cli("run", "Explain DNS", env=cli_env(ORCHESTRATEX_CATALOG=str(path)))
    assert done.returncode == 2 and NO_MODEL in done.stderr, done.stderr
    assert done.stderr.rstrip("\n").endswith("(the catalog named by ORCHESTRATEX_CATALOG)")
