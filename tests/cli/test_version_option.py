"""`-V` is `--version`, as python's, pip's and llm's, and either is taken after a command's name too: `orchestratex -V`
and `orchestratex run --version` said "the following arguments are required". Real processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestratex import __version__

from .conftest import cli_env, run_cli


@pytest.mark.parametrize(
    "argv",
    [
        ["-V"],
        ["--version"],
        ["-v", "-V"],
        ["run", "--version"],
        ["run", "-V"],
        ["run", "Explain photosynthesis", "--version"],
        ["runs", "list", "--version"],
        ["keys", "create", "-V"],
        ["serve", "--log-format", "json", "--version"],
    ],
)
def test_the_version_is_printed(argv: list[str], tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    done = run_cli(*argv, env=cli_env(ORCHESTRATEX_STORE_URL=f"sqlite:///{store}"))
    assert (done.returncode, done.stdout, done.stderr) == (0, f"orchestratex {__version__}\n", "")
    assert not store.exists()  # (nothing was run)


def test_the_help_names_both() -> None:
    done = run_cli("--help")
    assert done.returncode == 0
    assert "-V, --version" in done.stdout


def test_a_prompt_that_is_the_flag_goes_after_dashes(tmp_path: Path) -> None:
    done = run_cli(
        "run",
        "--provider",
        "sim",
        "--json",
        "--",
        "-V",
        env=cli_env(ORCHESTRATEX_STORE_URL=f"sqlite:///{tmp_path}/r.db"),
    )
    assert done.returncode == 0, done.stderr
    assert '"prompt": "-V"' in done.stdout
