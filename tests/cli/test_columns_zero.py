"""`COLUMNS=0`, which Python reads as unset (`shutil.get_terminal_size`): on a terminal, rich took it for a width of
0 and every line of `run`'s live view and of `runs list` was cut to nothing. Real processes on a pseudo-terminal."""

from __future__ import annotations

import sys

import pytest

from .conftest import PROMPT, cli_env, on_a_terminal, run_cli, screen_lines, stored

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="a POSIX pseudo-terminal")


@pytest.mark.parametrize("variables", [{"COLUMNS": "0"}, {"COLUMNS": "0", "LINES": "0"}])
def test_columns_0_is_the_terminals_width(store_url: str, variables: dict[str, str]) -> None:
    env = cli_env(**variables)
    shown = screen_lines(on_a_terminal(["run", PROMPT, "--store", store_url], env))
    assert shown[0].startswith("▶ started   domain coding"), shown
    assert any(line.startswith("#1 routed to sim:") for line in shown), shown
    (doc,), _ = stored(store_url)
    listed = screen_lines(on_a_terminal(["runs", "list", "--store", store_url], env))
    assert any(line.startswith(doc.id) for line in listed), listed
    assert run_cli("runs", "list", "--store", store_url, env=env).stdout.splitlines()[1].startswith(doc.id)
