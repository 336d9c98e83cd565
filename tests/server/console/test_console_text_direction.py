"""Right-to-left text in the console, in a real headless Chromium against a real server process: a prompt, an answer
or a judge's feedback is laid out in its own direction, not the page's."""

from __future__ import annotations

import pytest

from .conftest import Console, Watched
from .test_console_browser import log_in
from .test_console_runs import new_session_with_runs

pytestmark = pytest.mark.slow

HEBREW = "שלום עולם, מה שלומך היום?"  # (its "?" is a neutral character: laid out left to right, it goes at the left)


def test_a_right_to_left_prompt_is_laid_out_right_to_left(desktop: Watched, console: Console) -> None:
    """A Hebrew or Arabic prompt was set in the page's left-to-right direction wherever the console shows it (the
    start of its run in the feed, the list of runs, the threads): aligned to the left, and its final "?" or "!" shown
    at its right-hand end, before its first word, where no reader of that language expects it."""
    new_session_with_runs(console, HEBREW, max_iterations=1)
    page = desktop.page
    log_in(page, console)
    page.locator("#thread-list li").first.wait_for()
    page.locator("#feed .prompt").wait_for()
    direction = """(node, text) => {
      let at = node;  // the innermost element holding the whole prompt
      for (const child of node.querySelectorAll('*')) if (child.textContent.includes(text)) at = child;
      return at.matches(':dir(rtl)') ? 'rtl' : 'ltr';
    }"""
    assert page.locator("#feed .prompt").evaluate(direction, HEBREW) == "rtl"
    assert page.locator("#orchestration-list button").first.evaluate(direction, HEBREW) == "rtl"
    assert page.locator("#thread-list li").first.evaluate(direction, HEBREW) == "rtl"
    # (an English answer stays left to right)
    assert page.locator("#feed pre.answer").evaluate("(e) => e.matches(':dir(ltr)')")
    assert desktop.problems() == []
