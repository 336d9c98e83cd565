"""`run -` reads the prompt from standard input: a catalog file that is standard input too (`--catalog /dev/stdin`,
which docs/catalog.md names, or `ORCHESTRATEX_CATALOG=/dev/stdin`) is refused in one line, before anything is read."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import IO, Any

import pytest

from .conftest import CLI, cli_env

CATALOG = '[aliases]\nfast = "gpt-4.1-mini"\n'


def _run(args: list[str], stdin: IO[Any] | None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "run", "-", *args, "--store", "memory://", "--max-iterations", "1", "--json"],
        stdin=stdin,
        capture_output=True,
        text=True,
        env=cli_env(**env),
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("how", ["option", "variable"])
def test_a_catalog_on_standard_input_is_refused_with_run_dash(tmp_path: Path, how: str) -> None:
    args, env, named = (
        (["--catalog", "/dev/stdin"], {}, "--catalog /dev/stdin")
        if how == "option"
        else ([], {"ORCHESTRATEX_CATALOG": "/dev/stdin"}, "ORCHESTRATEX_CATALOG=/dev/stdin")
    )
    piped = subprocess.Popen(["cat", "--", str(_catalog(tmp_path))], stdout=subprocess.PIPE)
    try:
        # piped, the catalog took the input and "the prompt is empty"
        done = _run(args, piped.stdout, **env)
    finally:
        assert piped.stdout is not None
        piped.stdout.close()
        piped.wait()
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"orchestratex: error: run - reads the prompt from standard input, and {named} ")
    with _catalog(tmp_path).open() as file:  # redirected from a file, its catalog text was the prompt
        done = _run(args, file, **env)
    assert done.returncode == 2 and done.stdout == "", done.stdout[:300]
    assert "names standard input too" in done.stderr


def test_a_catalog_on_standard_input_still_serves_a_prompt_given_as_an_argument(tmp_path: Path) -> None:
    with _catalog(tmp_path).open() as file:
        done = subprocess.run(
            [*CLI, "run", "Hello", "--catalog", "/dev/stdin", "--store", "memory://", "--max-iterations", "1"],
            stdin=file,
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr


def _catalog(tmp_path: Path) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(CATALOG, encoding="utf-8")
    return path
