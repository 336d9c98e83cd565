"""Numbers in the console, in a real headless Chromium against a real server process: the start form's fields typed
with a decimal comma, as in a language that writes one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Console, Watched, open_page
from .scripted import user_with_a_run
from .test_console_browser import ENDED, log_in, new_session

pytestmark = pytest.mark.slow


@pytest.fixture
def german(browser: Any, request: pytest.FixtureRequest) -> Iterator[Watched]:
    yield from open_page(browser, request, viewport={"width": 1280, "height": 900}, locale="de-DE")


def sent_starts(page: Any) -> list[dict[str, Any]]:
    """The settings of each start the page sends, as it sends them."""
    starts: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: (
            starts.append(json.loads(r.post_data or "{}")["settings"])
            if r.url.endswith("/api/orchestration/start")
            else None
        ),
    )
    return starts


def type_into(page: Any, label: str, text: str) -> None:
    """Type `text` into the field as a person does, key by key (a fill would skip what a browser does with keys)."""
    field = page.get_by_label(label)
    field.fill("")
    field.press_sequentially(text)


def test_a_decimal_comma_is_read_as_such(german: Watched, console: Console) -> None:
    """The number fields dropped a comma: in German, where 0.5 is written "0,5", the cost limit "0,5" was sent as
    5 US$ — ten times the limit meant — and "1,5" iterations as 15, with nothing said."""
    from playwright.sync_api import expect

    page = german.page
    starts = sent_starts(page)
    log_in(page, console)
    new_session(page)
    page.get_by_label("Prompt").fill("Explain recursion")
    type_into(page, "Max iterations", "1,5")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#start-error")).to_have_text('Max iterations: "1,5" is not a whole number.')
    type_into(page, "Max iterations", "1")
    type_into(page, "Threshold (0–10)", "7,5")
    type_into(page, "Cost limit (US$)", "0,5")
    page.get_by_role("button", name="Start").click()
    page.locator(ENDED).wait_for(timeout=90_000)
    assert starts == [{"max_iterations": 1, "evaluation_threshold": 7.5, "cost_limit": 0.5}]
    assert german.problems() == []


def test_a_comma_is_refused_where_the_language_writes_a_decimal_point(desktop: Watched, console: Console) -> None:
    """In English "1,000" is a thousand, "0,5" a typo: neither may be sent as a number it does not say."""
    from playwright.sync_api import expect

    page = desktop.page
    starts = sent_starts(page)
    log_in(page, console)
    page.get_by_label("Prompt").fill("Explain recursion")
    error = page.locator("#start-error")
    for value in ("0,5", "1,000", "1.000,5"):
        type_into(page, "Cost limit (US$)", value)
        page.get_by_role("button", name="Start").click()
        expect(error).to_have_text(
            f'Cost limit (US$): "{value}" is not a number: write it with a decimal point ("0.5") and no thousands'
            " separator."
        )
    type_into(page, "Cost limit (US$)", "0x10")
    page.get_by_role("button", name="Start").click()
    expect(error).to_have_text('Cost limit (US$): "0x10" is not a number.')
    assert starts == []
    assert desktop.problems() == []


def test_a_thousands_point_is_refused_where_the_language_writes_a_decimal_comma(
    german: Watched, console: Console
) -> None:
    """In German "1.000" is a thousand: the cost limit "1.000" was sent as 1 US$ and "10.000" as 10, with nothing
    said. A point before each group of three digits is now refused there; "0.5" and "1.25" are still read."""
    from playwright.sync_api import expect

    page = german.page
    starts = sent_starts(page)
    log_in(page, console)
    new_session(page)  # (no run ended in it yet)
    page.get_by_label("Prompt").fill("Explain recursion")
    error = page.locator("#start-error")
    for value in ("1.000", "10.000", "1.000.000"):
        type_into(page, "Cost limit (US$)", value)
        page.get_by_role("button", name="Start").click()
        expect(error).to_have_text(
            f'Cost limit (US$): "{value}" is not a number: write it with a decimal comma ("1,5") and no thousands'
            ' separator ("1000").'
        )
    assert starts == []
    type_into(page, "Cost limit (US$)", "1.25")
    page.get_by_role("button", name="Start").click()
    page.locator(ENDED).wait_for(timeout=90_000)
    assert starts == [{"cost_limit": 1.25}]
    assert german.problems() == []


def test_a_score_just_under_the_threshold_is_not_shown_reaching_it(desktop: Watched, console: Console) -> None:
    """Scores were rounded to one decimal: an answer judged 8.96 under a threshold of 9 read "judged 9.0/10", and
    the run then refined it "after … scored below the threshold" and stopped for its iterations, not its score."""
    from playwright.sync_api import expect

    page = desktop.page
    log_in(page, user_with_a_run(console, "quinn", cost=1e-6, score=8.96, max_iterations=2, evaluation_threshold=9))
    page.locator(ENDED).wait_for()
    judged = page.locator("#feed li[data-type=evaluation_completed] .event-title")
    expect(judged).to_have_text(["#4 Iteration 1: judged 8.96/10", "#7 Iteration 2: judged 8.96/10"])
    expect(page.locator("#feed li[data-type=orchestration_completed] .event-title")).to_contain_text("8.96/10")
    expect(page.locator("#orchestration-list .pick-meta")).to_have_text("8.96/10 · $0.0000040")
    expect(page.locator("#verdicts td", has_text="/10")).to_have_text(["8.96/10", "8.96/10"])
    expect(page.locator("#score-chart figcaption")).to_have_text("Final score per orchestration (0–10) · mean 8.96/10")
    expect(page.locator("#score-svg-desc")).to_have_text("1 scored orchestration, mean 8.96/10.")
    assert desktop.problems() == []
