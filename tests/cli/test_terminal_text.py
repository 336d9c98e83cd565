"""Text from a store or a model (a prompt, an answer) cannot drive the terminal it is shown on."""

from __future__ import annotations

import json
import sys

import pytest
from rich.text import Text

from .conftest import cli_env, on_a_terminal, run_cli

HOSTILE = "Explain this \x1b]0;PWNED\x07 title and \x1b[2J\x9b2J screen"
"""A prompt that sets the window's title and clears the screen (twice: ESC [ and the one-byte C1 CSI)."""
SHOWN = "Explain this ␛]0;PWNED␇ title and ␛[2J\ufffd2J screen"


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_control_characters_are_shown_not_obeyed_on_a_terminal(store_url: str) -> None:
    env = cli_env(COLUMNS="400", TERM="xterm-256color")
    # the simulated answer quotes the prompt: the live view's lines and the final answer carry it
    live = on_a_terminal(["run", HOSTILE, "--max-iterations", "1", "--store", store_url], env)
    listed = on_a_terminal(["runs", "list", "--store", store_url], env)
    (oid,) = json.loads(run_cli("runs", "list", "--json", "--store", store_url).stdout)[0:1]
    shown = on_a_terminal(["runs", "show", oid["_id"], "--store", store_url], env)
    for screen in (live, listed, shown):
        assert "\x1b]" not in screen and "\x07" not in screen and "\x1b[2J" not in screen and "\x9b" not in screen
        assert SHOWN in screen
    assert shown.count(SHOWN) >= 2, "the prompt line and the answer quoting it"
    piped = run_cli("runs", "show", oid["_id"], "--store", store_url)
    assert f"prompt:   {HOSTILE}\n" in piped.stdout, "piped, every character is written as it is"


def test_harmless_keeps_line_breaks_tabs_and_text_styles() -> None:
    from orchestratex.cli._output import _harmless_text, harmless

    assert harmless("a\tb\r\nc\rd\x00\x7f") == "a\tb\nc␍d␀␡"
    assert harmless("naïve 👋🏽 שלום") == "naïve 👋🏽 שלום"
    styled = Text.assemble(("red\x1b", "red"), " plain")
    out = _harmless_text(styled)
    assert out.plain == "red␛ plain" and [(s.start, s.end, s.style) for s in out.spans] == [(0, 4, "red")]
    assert styled.plain == "red\x1b plain", "the caller's text is left as it was"
