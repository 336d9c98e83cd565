"""A terminal that says it is dumb (`TERM=dumb`: Emacs' shell, some IDE terminals) is as wide as it says."""

from __future__ import annotations

import json
import sys

import pytest
from rich.cells import cell_len

from .conftest import PROMPT, cli_env, on_a_terminal, run_cli, screen_lines

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


def test_run_lines_are_cut_at_the_width_of_a_dumb_terminal_not_at_80(store_url: str) -> None:
    """rich takes every TERM=dumb terminal for 80×25, whatever COLUMNS or the window's size: each event line was
    cut at 80 columns on a 150-column window."""
    args = ["run", PROMPT, "--threshold", "9.5", "--store", store_url]
    screen = on_a_terminal(args, cli_env(COLUMNS="150", TERM="dumb"))
    events = screen.split("── final answer")[0]
    lines = [line for line in screen_lines(events) if line.startswith(("▶", "#", "   answered", "   judged", "✔"))]
    assert len(lines) >= 5
    assert all(cell_len(line) <= 150 for line in lines), [cell_len(line) for line in lines]
    assert any(line.endswith("…") and cell_len(line) == 150 for line in lines), [cell_len(line) for line in lines]


@pytest.mark.parametrize("columns", [80, 200])
def test_the_models_table_is_whole_on_a_dumb_terminal(columns: int) -> None:
    """On TERM=dumb the table was measured as if 80 columns always fitted it: the boxed table was drawn squeezed,
    aliases and specialties reduced to nothing and every status cut to "no k…"."""
    listed = json.loads(run_cli("models", "--json").stdout)["models"]
    lines = screen_lines(on_a_terminal(["models"], cli_env(COLUMNS=str(columns), TERM="dumb")))
    assert max(cell_len(line) for line in lines) <= columns
    table = "\n".join(lines[lines.index("Model catalog (US$ per 1M tokens)") :])
    assert "…" not in table, "no cell is cut"
    words = table.replace(",", " ").split()
    for model in listed:
        assert model["name"] in words and model["provider_status"] in table
        for word in [*model["aliases"], *model["specialties"]]:
            assert word in words, (model["name"], word)
