"""`runs list` on a terminal titles its table with the filters it applies: `runs list --status failed --user alice`
was titled "Orchestrations in sqlite:///… (newest first)", as if it listed every run of the store. Real processes on a
pseudo-terminal."""

from __future__ import annotations

import pytest

from .conftest import PROMPT, cli_env, on_a_terminal, run_cli, screen_lines


@pytest.mark.parametrize(
    ("filters", "title"),
    [
        ([], "Orchestrations in {url} (newest first)"),
        (["--status", "Completed"], "Orchestrations with status completed in {url} (newest first)"),
        (["--user", "alice"], "Orchestrations of user 'alice' in {url} (newest first)"),
        (
            ["--status", "completed", "--user", "alice"],
            "Orchestrations with status completed of user 'alice' in {url} (newest first)",
        ),
    ],
)
def test_the_title_says_the_filters(filters: list[str], title: str, store_url: str) -> None:
    env = cli_env(USER="alice", COLUMNS="200")
    done = run_cli("run", PROMPT, "--store", store_url, "--max-iterations", "1", env=env)
    assert done.returncode == 0, done.stderr
    lines = screen_lines(on_a_terminal(["runs", "list", "--store", store_url, *filters], env))
    assert lines[0].strip() == title.format(url=store_url), lines
    assert lines[1].split()[:2] == ["id", "created"] and len(lines) == 3, lines
