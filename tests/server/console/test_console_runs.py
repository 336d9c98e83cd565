"""A session's orchestrations in the console, in a real headless Chromium against a real server process: what
opening a session with finished runs costs in requests, the list of runs under the keyboard, the score chart."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from .conftest import Console, Watched
from .test_console_browser import ENDED, log_in

pytestmark = pytest.mark.slow


def fails_for_budget(console: Console) -> float:
    """A run's own cost_limit that pays for a simulated model's shortest answer and its judging as the server counts
    them at the start (the prompt left out), so the server starts the run, but not for the prompt sent with that
    answer too: the run fails `budget` before any call, having cost nothing. Read from the start's refusal of a
    smaller one, which names that least cost rounded up to a millionth of a dollar (a cost_limit that pays for no
    judged answer, or of 0, is refused at the start, 409)."""
    headers = {"Authorization": f"Bearer {console.key}"}
    with httpx.Client(base_url=console.server.base_url, headers=headers, timeout=30) as client:
        session = client.post("/api/sessions/", json={}).json()
        thread = client.post("/api/threads/", json={"session_id": session["_id"], "original_prompt": "Explain entropy"})
        budget = 1e-6  # (no answer fits it: the refusal names the least answer, whose judging the next one adds)
        for _ in range(3):
            start = {"thread_id": thread.json()["_id"], "settings": {"cost_limit": budget}}
            refused = client.post("/api/orchestration/start", json=start)
            assert refused.status_code == 409, refused.text
            detail = refused.json()["detail"]
            budget = float(detail.split("costs ($", 1)[1].split(",", 1)[0])
            if " and its judging, its prompt not counted)" in detail:
                client.patch(f"/api/sessions/{session['_id']}/status", json={"status": "completed"})
                return budget
    raise AssertionError(detail)


def run_to_the_end(console: Console, session_id: str, prompt: str, **settings: Any) -> str:
    """Start an orchestration in `session_id` through the REST API and wait until it has ended; its id."""
    headers = {"Authorization": f"Bearer {console.key}"}
    with httpx.Client(base_url=console.server.base_url, headers=headers, timeout=30) as client:
        thread = client.post("/api/threads/", json={"session_id": session_id, "original_prompt": prompt}).json()
        started = client.post("/api/orchestration/start", json={"thread_id": thread["_id"], "settings": settings})
        assert started.status_code == 202, started.text
        oid: str = started.json()["_id"]
        deadline = time.monotonic() + 90
        while client.get(f"/api/orchestration/status/{oid}").json()["status"] in ("pending", "running"):
            assert time.monotonic() < deadline, f"orchestration {oid} did not end"
            time.sleep(0.05)
    return oid


def new_session_with_runs(console: Console, *prompts: str, **settings: Any) -> tuple[str, list[str]]:
    """A new session of alice's (the newest: the console selects it) with one finished run per prompt."""
    headers = {"Authorization": f"Bearer {console.key}"}
    session_id: str = httpx.post(f"{console.server.base_url}/api/sessions/", json={}, headers=headers).json()["_id"]
    return session_id, [run_to_the_end(console, session_id, p, **settings) for p in prompts]


def test_opening_a_session_reads_the_verdicts_of_the_run_shown_only(desktop: Watched, console: Console) -> None:
    """The replay of a session's stored events shows and ends each of its runs in turn: the console read each
    one's verdicts, so opening a session of 100 finished runs spent its whole rate limit (100 requests a minute)
    and the next start was refused with 429."""
    _, runs = new_session_with_runs(console, *(f"What is {n} + {n}?" for n in range(4)), max_iterations=1)
    page = desktop.page
    status_reads: list[str] = []
    page.on("request", lambda r: status_reads.append(r.url) if "/api/orchestration/status/" in r.url else None)
    log_in(page, console)
    page.locator("#verdicts table").wait_for()
    page.wait_for_timeout(1000)  # (time for any other read to go out)
    assert page.locator("#orchestration-list button").count() == 4
    assert [url.rsplit("/", 1)[-1] for url in status_reads] == [runs[-1]]
    assert desktop.problems() == []


def test_a_focused_run_keeps_the_focus_while_events_arrive(desktop: Watched, console: Console) -> None:
    """The list of runs was drawn anew on each event, so the button a keyboard user had reached lost the focus
    (to the page's body) every time an event of a running orchestration came in."""
    from playwright.sync_api import expect

    session_id, (first,) = new_session_with_runs(console, "Explain recursion", max_iterations=1)
    page = desktop.page
    log_in(page, console)
    button = page.locator(f"#orchestration-list button[data-orchestration='{first}']")
    button.focus()
    second = run_to_the_end(console, session_id, "Explain iteration", max_iterations=2, evaluation_threshold=10)
    newest = page.locator("#orchestration-list button").first
    expect(newest).to_have_attribute("data-orchestration", second)
    expect(newest.locator(".status")).not_to_have_text("running")
    assert page.evaluate("document.activeElement.dataset.orchestration") == first
    page.keyboard.press("Enter")  # and it still opens the run it names
    expect(page.locator("#live-title")).to_have_text(f"Orchestration {first}")
    assert desktop.problems() == []


def test_the_score_chart_of_runs_without_a_score_says_so(desktop: Watched, console: Console) -> None:
    """A session whose finished runs all failed (or were cancelled) said "No finished orchestration yet." under
    the score chart, next to a cost chart drawing those very runs."""
    from playwright.sync_api import expect

    new_session_with_runs(console, "Explain entropy", cost_limit=fails_for_budget(console))
    page = desktop.page
    log_in(page, console)
    page.locator(ENDED).wait_for()
    # (the charts are drawn after the feed's replay: wait for them rather than read them at once)
    expect(page.locator("#cost-chart svg rect.bar")).to_have_count(1)
    hint = page.locator("#score-chart .hint")
    expect(hint).to_have_text(
        "No finished orchestration has a final score (a failed or cancelled one has none, nor an answer returned"
        " unjudged)."
    )
    assert desktop.problems() == []


def test_starting_with_the_keyboard_keeps_the_focus_on_start(desktop: Watched, console: Console) -> None:
    """Start was disabled while its requests were on their way, and a disabled button loses the focus: a keyboard
    user who pressed it found the focus on the page's body."""
    page = desktop.page
    log_in(page, console)
    page.get_by_label("Prompt").fill("Explain a hash table")
    page.get_by_label("Max iterations").fill("1")
    page.locator("#start-submit").focus()
    page.keyboard.press("Enter")
    page.locator(ENDED).wait_for(timeout=90_000)
    assert page.evaluate("document.activeElement.id") == "start-submit"
    assert desktop.problems() == []


def test_a_cost_under_a_micro_dollar_is_not_shown_as_zero(desktop: Watched, console: Console) -> None:
    """Amounts under a cent were shown to 6 decimals: a run whose calls cost $0.00000019 each (a cheap judge on a short
    answer, a local model at a token price of almost nothing) showed "$0.000000" as its cost and its session's spend,
    beside the "$0" of a session that spent nothing."""
    import asyncio
    import json
    from concurrent.futures import ThreadPoolExecutor

    from playwright.sync_api import expect

    from orchestratex import FunctionProvider, Orchestrator
    from orchestratex.providers import Generation, GenerationRequest
    from orchestratex.stores import open_store

    from ...helpers import catalog
    from ..server_process import create_key

    key = create_key(console.server.store_url, "nina")
    with httpx.Client(base_url=console.server.base_url, headers={"Authorization": f"Bearer {key}"}) as client:
        session_id = client.post("/api/sessions/", json={}).json()["_id"]

    def answer(request: GenerationRequest) -> Generation:
        text = json.dumps({"score": 9, "feedback": "fine"}) if request.purpose == "judge" else "an answer"
        return Generation(text=text, reported_cost=1.9e-7)  # (the provider's own figure, counted as it is)

    async def run() -> None:  # (in the server's store: each call reported 1.9e-7 US$)
        store = await open_store(console.server.store_url)
        try:
            providers = [FunctionProvider(answer)]
            async with Orchestrator(providers=providers, catalog=catalog("a", "b"), store=store) as orchestrator:
                await orchestrator.run("Say hi", session=session_id, max_iterations=1)
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as pool:  # (Playwright's loop runs in this thread)
        pool.submit(lambda: asyncio.run(run())).result()
    page = desktop.page
    log_in(page, Console(console.server, key, "nina"))
    spent = page.locator("#session-facts dt:text-is('spent') + dd")
    expect(spent).to_have_text("$0.00000038")  # an answer and its judge
    expect(page.locator("#orchestration-list .pick-meta").first).to_contain_text("$0.00000038")
    assert desktop.problems() == []


def test_verdicts_that_could_not_be_read_are_read_again(desktop: Watched, console: Console) -> None:
    """A read of the run's verdicts refused once (a rate limit, the server restarting: 503 with `Retry-After`) left
    "The verdicts could not be read" on the page for good: the console never read them again."""
    new_session_with_runs(console, "What is 7 + 7?", max_iterations=1)
    page = desktop.page
    refused: list[str] = []

    def refuse_once(route: Any) -> None:
        if refused:
            route.continue_()
            return
        refused.append(route.request.url)
        body = '{"detail": "the database is unavailable (busy or unreachable): retry in 1 s", "status_code": 503}'
        route.fulfill(status=503, headers={"Retry-After": "1", "Content-Type": "application/json"}, body=body)

    page.route("**/api/orchestration/status/**", refuse_once)
    log_in(page, console)
    page.locator("#verdicts .error").wait_for()
    assert "could not be read" in page.locator("#verdicts").inner_text()
    page.locator("#verdicts table").wait_for(timeout=15_000)
    assert page.locator("#verdicts .error").count() == 0 and len(refused) == 1
    assert [p for p in desktop.problems() if "503" not in p] == []


def test_a_prompt_cut_short_keeps_its_emoji_whole(desktop: Watched, console: Console) -> None:
    """The console cuts long prompts (the list of runs at 90 characters, the threads at 120) by UTF-16 unit: an emoji
    (two units) where the cut fell was split, and its first half showed as "�" before the "…"."""
    from playwright.sync_api import expect

    prompt = "x" * 88 + "\N{GRINNING FACE}" + "y" * 40
    new_session_with_runs(console, prompt, max_iterations=1)
    page = desktop.page
    log_in(page, console)
    title = page.locator("#orchestration-list .pick-title").first
    expect(title).to_have_text("x" * 88 + "\N{GRINNING FACE}…")
    thread = page.locator("#thread-list li").first
    expect(thread).to_have_text("auto " + prompt[:119] + "…")  # (120 characters: the emoji is one)
    assert desktop.problems() == []


def test_the_cost_chart_of_runs_that_cost_nothing_says_zero(desktop: Watched, console: Console) -> None:
    """A session whose finished runs had all cost nothing (failed before any call: a cost limit of 0) showed
    "$0.0000000010" as its cost chart's highest value, and "at most $0.0000000010" to a screen reader: the chart's
    scale had a floor of 1e-9 that its labels wrote as the runs' cost."""
    from playwright.sync_api import expect

    new_session_with_runs(console, "Explain entropy", cost_limit=fails_for_budget(console))
    page = desktop.page
    log_in(page, console)
    expect(page.locator("#cost-chart svg rect.bar")).to_have_count(1)
    expect(page.locator("#cost-chart svg text.tick")).to_have_text(["$0", "$0"])
    expect(page.locator("#cost-svg-desc")).to_have_text("1 orchestration, $0 in all, at most $0.")
    assert desktop.problems() == []


def test_the_charts_summaries_count_one_run_in_the_singular(desktop: Watched, console: Console) -> None:
    """A screen reader read the charts of a session of one run as "1 orchestrations, …" and "1 scored
    orchestrations, …"."""
    import re

    from playwright.sync_api import expect

    new_session_with_runs(console, "Explain a linked list", max_iterations=1)
    page = desktop.page
    log_in(page, console)
    expect(page.locator("#cost-svg-desc")).to_have_text(re.compile(r"^1 orchestration, \$"))
    expect(page.locator("#score-svg-desc")).to_have_text(re.compile(r"^1 scored orchestration, mean \d"))
    assert desktop.problems() == []


def test_an_answer_returned_unjudged_is_said_to_be(desktop: Watched, console: Console) -> None:
    """A run of a session judging "when_needed" with one iteration completes with no score (`final_score` null, as
    the API gives it): the console titled its end "Completed: — by …", listed it as "— · $…" like a fault, and said
    under the score chart that only a failed or cancelled run has no score."""
    from playwright.sync_api import expect

    headers = {"Authorization": f"Bearer {console.key}"}
    body = {"max_iterations": 1, "settings": {"judging": "when_needed"}}
    made = httpx.post(f"{console.server.base_url}/api/sessions/", json=body, headers=headers)
    assert made.status_code == 201, made.text
    oid = run_to_the_end(console, made.json()["_id"], "Explain a hash map")
    status = httpx.get(f"{console.server.base_url}/api/orchestration/status/{oid}", headers=headers).json()
    assert (status["status"], status["final_score"]) == ("completed", None)
    page = desktop.page
    log_in(page, console)
    title = page.locator("#feed li[data-type=orchestration_completed] .event-title")
    expect(title).to_contain_text("Completed, unjudged: by sim:")
    expect(page.locator(f"#orchestration-list button[data-orchestration='{oid}'] .pick-meta")).to_have_text(
        re.compile(r"^unjudged · \$")
    )
    expect(page.locator("#score-chart .hint")).to_contain_text("nor an answer returned unjudged")
    # (and the session's facts say why: they left its judging settings out)
    facts = page.locator("#session-facts")
    expect(facts.locator("dt")).to_have_text(
        ["status", "started", "spent", "cost limit", "max iterations", "models", "judges", "judging"]
    )
    expect(facts.locator("dd").last).to_have_text("when_needed")
    assert desktop.problems() == []


def test_the_prompt_of_a_run_is_shown_whole_with_its_lines(desktop: Watched, console: Console) -> None:
    """The start of a run in the feed showed its prompt on one line, cut to 400 characters: a prompt with a snippet
    of code pasted into it lost its line breaks and indentation, and its end (often the question itself) could not be
    read anywhere in the console."""
    from playwright.sync_api import expect

    code = "\n".join(f"def step_{n}(x):\n    return x + {n}" for n in range(30))
    prompt = f"Why does this fail?\n\n{code}\n\nThe question: which step is wrong?"
    new_session_with_runs(console, prompt, max_iterations=1)
    page = desktop.page
    log_in(page, console)
    shown = page.locator("#feed li[data-type=orchestration_started] .prompt")
    expect(shown).to_have_text(prompt)  # (whole)
    assert shown.evaluate("(e) => e.innerText") == prompt  # (its lines as typed)
    assert desktop.problems() == []


def test_a_run_completed_short_of_its_budget_says_why(desktop: Watched, console: Console) -> None:
    """A run that completed with an answer but stopped for its budget (or an error) showed "stop reason: budget"
    alone: why — no model's worst-case cost fitting what was left — is in the status document's `error`, which the
    API and `orchestratex runs show` give, and its last event does not carry."""
    from playwright.sync_api import expect

    _, (oid,) = new_session_with_runs(
        console, "Explain recursion", max_iterations=5, evaluation_threshold=10, cost_limit=0.0005
    )
    headers = {"Authorization": f"Bearer {console.key}"}
    doc = httpx.get(f"{console.server.base_url}/api/orchestration/status/{oid}", headers=headers).json()
    assert (doc["status"], doc["stop_reason"]) == ("completed", "budget") and doc["error"], doc
    page = desktop.page
    log_in(page, console)
    expect(page.locator("#verdicts .note")).to_have_text(f"Stopped early (budget): {doc['error']}")
    assert desktop.problems() == []


@pytest.mark.parametrize(
    "character",
    [
        "\N{REGIONAL INDICATOR SYMBOL LETTER D}\N{REGIONAL INDICATOR SYMBOL LETTER E}",
        "e\N{COMBINING ACUTE ACCENT}",
        "\N{MAN}\N{ZERO WIDTH JOINER}\N{WOMAN}\N{ZERO WIDTH JOINER}\N{GIRL}",
    ],
    ids=["flag", "combining", "zwj"],
)
def test_a_prompt_cut_short_keeps_each_character_whole(desktop: Watched, console: Console, character: str) -> None:
    """Prompts were cut by code point: a flag where the cut fell showed half of itself (a lone "D"), a family emoji its
    man alone, and an "é" written e + U+0301 lost its accent."""
    from playwright.sync_api import expect

    prompt = "x" * 88 + character + "y" * 40
    new_session_with_runs(console, prompt, max_iterations=1)
    page = desktop.page
    log_in(page, console)
    expect(page.locator("#orchestration-list .pick-title").first).to_have_text("x" * 88 + character + "…")
    expect(page.locator("#thread-list li").first).to_have_text("auto " + "x" * 88 + character + "y" * 30 + "…")
    assert desktop.problems() == []


def test_a_run_of_a_long_prompt_is_not_read_whole_for_each_line_drawn(desktop: Watched, console: Console) -> None:
    """A long prompt (a document to summarise; the API takes up to 5 MB) was flattened and split into characters whole
    each time the console drew a shortened line of it — the tab's title, the list of runs, the charts' labels, the
    threads — at every event of its session and each read of its threads: over a second each for a 5 MB prompt, so
    the page froze while other runs went on. Only its start is read now: no text of more than a few thousand
    characters is split, and the lines read as before."""
    from playwright.sync_api import expect

    page = desktop.page
    page.add_init_script(
        """(() => {
          const segment = Intl.Segmenter.prototype.segment;
          window.longestSegmented = 0;
          Intl.Segmenter.prototype.segment = function (text) {
            window.longestSegmented = Math.max(window.longestSegmented, String(text).length);
            return segment.call(this, text);
          };
        })();"""
    )
    flag = "\N{REGIONAL INDICATOR SYMBOL LETTER D}\N{REGIONAL INDICATOR SYMBOL LETTER E}"
    prompt = f"Summarise {flag}  this:\n" + "word   " * 60_000  # (420 KB)
    _, (oid,) = new_session_with_runs(console, prompt, max_iterations=1)
    log_in(page, console)
    page.locator(ENDED).wait_for(timeout=90_000)
    shown = [*"Summarise ", flag, *(" this: " + "word " * 30)]  # (as a reader counts characters: the flag is one)

    def cut(width: int) -> str:
        return "".join(shown[: width - 1]) + "…"

    expect(page.locator(f"#orchestration-list button[data-orchestration='{oid}'] .pick-title")).to_have_text(cut(90))
    expect(page.locator("#thread-list li").first).to_have_text("auto " + cut(120))
    expect(page).to_have_title(re.compile(rf"^\w+ · {re.escape(cut(40))} · OrchestrateX console$"))
    assert page.evaluate("window.longestSegmented") < 10_000
    assert desktop.problems() == []


def test_a_long_prompt_shows_its_start_and_the_rest_on_request(desktop: Watched, console: Console) -> None:
    """A run's prompt was laid out whole in its first card: the browser took seconds for a prompt of a megabyte and
    minutes for 5 MB (the API's limit), during which the page answered nothing, each time the run was shown. Its first
    50,000 characters are shown now, to a line's end, with a button that shows the rest."""
    from playwright.sync_api import expect

    lines = [f"line {n}: " + "text " * 15 for n in range(1500)]  # (about 120,000 characters)
    prompt = "\n".join(["Summarise this log:", *lines, "Which line failed?"])
    new_session_with_runs(console, prompt, max_iterations=1)
    page = desktop.page
    log_in(page, console)
    shown = page.locator("#feed li[data-type=orchestration_started] .prompt")
    expect(shown).to_contain_text("Summarise this log:\nline 0: ")
    start: str = shown.evaluate("(e) => e.textContent")
    assert 48_000 <= len(start) <= 50_000 and prompt.startswith(start) and start.endswith("text ")  # (a whole line)
    more = page.get_by_role("button", name=f"Show the whole prompt ({len(prompt) - len(start)} more characters)")
    more.focus()
    page.keyboard.press("Enter")
    expect(more).to_have_count(0)
    assert shown.evaluate("(e) => e.textContent") == prompt
    expect(shown).to_be_focused()
    assert desktop.problems() == []


def test_a_run_picked_on_a_phone_is_brought_into_view(phone: Watched, console: Console) -> None:
    """On a narrow screen the run shown stands above the session's list of runs, past its feed: a tap on an earlier
    run in the list replaced that feed thousands of pixels up, and nothing in sight changed but the run's outline.
    The run picked is now scrolled to, its heading focused."""
    from playwright.sync_api import expect

    _, (first, _second) = new_session_with_runs(
        console, "Explain recursion", "Explain entropy", max_iterations=3, evaluation_threshold=9.9
    )
    page = phone.page
    log_in(page, console)
    page.locator(ENDED).wait_for()
    button = page.locator(f"#orchestration-list button[data-orchestration='{first}']")
    button.scroll_into_view_if_needed()
    expect(page.locator("#live-title")).not_to_be_in_viewport()
    button.tap()
    title = page.locator("#live-title")
    expect(title).to_have_text(f"Orchestration {first}")
    expect(title).to_be_in_viewport()
    expect(title).to_be_focused()
    assert phone.problems() == []
