"""What people see: plain whole lines when piped, rich on a terminal, the answer never in a box,
`--verbose` log lines, and a run header that says why the models are simulated."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestratex.cli import main
from orchestratex.cli._models import simulation_reason

from .conftest import CLI, PROMPT, cli_env, on_a_terminal, run_cli, screen_lines, stored

BOX = "│╭╮╰╯┃━─"


@pytest.mark.parametrize("env", [{}, {"FORCE_COLOR": "1"}, {"TTY_COMPATIBLE": "1"}])
def test_piped_run_is_plain_and_whole(store_url: str, env: dict[str, str]) -> None:
    """Also where `FORCE_COLOR` (which CI systems and tool runners set) told rich a pipe was a terminal: the lines
    were cut at 80 columns and spinner frames written into the log."""
    done = run_cli("run", PROMPT, "--threshold", "9.5", "--store", store_url, env=cli_env(**env))
    assert done.returncode == 0, done.stderr
    (doc,) = stored(store_url)[0]
    out = done.stdout
    assert "\x1b[" not in out, "no colour codes in a pipe"
    assert "…" not in out, "nothing is cut in a pipe"
    for it in doc.iterations:
        assert " ".join(it.reasoning.split()).removeprefix(f"{it.model_name}: ") in out  # whole reasoning
        assert it.evaluation is not None and " ".join(it.evaluation.feedback.split()) in out
    assert doc.final_response is not None
    head, _, answer = out.partition(f"── final answer by {doc.final_model} (simulated) ──\n")
    assert answer == doc.final_response.rstrip("\n") + "\n", "the answer, exactly as stored, ends the output"
    assert not any(c in head.replace("── final", "") for c in "│╭╮╰╯")


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_on_a_terminal_the_answer_is_still_not_in_a_box(store_url: str) -> None:
    env = cli_env(COLUMNS="80", TERM="xterm-256color")
    screen = on_a_terminal(["run", PROMPT, "--threshold", "5", "--store", store_url], env)
    (doc,) = stored(store_url)[0]
    assert "\x1b[" in screen, "a terminal gets colours"
    assert doc.final_response is not None
    answer = screen.split("final answer by", 1)[1].split("\n", 1)[1]
    for line in doc.final_response.strip().splitlines():
        assert line in answer.splitlines(), f"{line!r} is not printed as it is"
    assert not any(c in answer for c in BOX)


def test_verbose_shows_the_library_log_lines(store_url: str) -> None:
    quiet = run_cli("run", PROMPT, "--json", "--store", store_url)
    assert quiet.stderr == ""
    loud = run_cli("run", PROMPT, "--json", "--store", store_url, "--verbose")
    oid = json.loads(loud.stdout)["_id"]
    lines = [line for line in loud.stderr.splitlines() if "orchestratex.cli" in line]
    assert lines and f"orchestration {oid} stored" in lines[0] and f"orchestration_id={oid}" in lines[0]
    assert " INFO " in lines[0]
    also_first = run_cli("-v", "runs", "list", "--store", store_url)
    assert also_first.returncode == 0


def test_verbose_fields_are_logfmt_and_one_record_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A field's value with a line boundary (U+2028 too), a quote or a space is JSON-quoted, as the library's own
    lines write it: it was written as it was (a U+2028 split the line) or as a Python repr (`'x y'`)."""
    import logging

    from orchestratex.cli._logs import hide_logs, show_logs

    shown = show_logs(1)
    try:
        fields = {"label": "a\u2028b", "note": "x y", "said": 'k="v"', "gone": None, "n": 3}
        logging.getLogger("orchestratex.providers.mine").info("seen", extra=fields)
    finally:
        hide_logs(shown)
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, repr(err)
    assert err.rstrip("\n").endswith(' seen label="a\\u2028b" note="x y" said="k=\\"v\\"" n=3'), repr(err)


def test_verbose_levels_reach_every_orchestratex_logger(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from orchestratex.cli._logs import hide_logs, show_logs

    shown = show_logs(1)
    try:
        logging.getLogger("orchestratex.orchestrator").info("model call", extra={"model": "m", "cost": 0.5})
        logging.getLogger("orchestratex.orchestrator").debug("hidden at -v")
        logging.getLogger("other").warning("not ours")
    finally:
        hide_logs(shown)
    err = capsys.readouterr().err
    assert "INFO orchestratex.orchestrator: model call model=m cost=0.5" in err
    assert "hidden" not in err and "not ours" not in err
    shown = show_logs(2)
    try:
        logging.getLogger("orchestratex.stores").debug("now shown")
    finally:
        hide_logs(shown)
    assert "DEBUG orchestratex.stores: now shown" in capsys.readouterr().err
    assert logging.getLogger("orchestratex").handlers == []


def test_the_header_names_the_adapter_to_install_when_a_key_is_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import orchestratex.cli._models as models
    import orchestratex.orchestrator._models as orchestrator

    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    for module in (models, orchestrator):  # as if orchestratex-openai were not installed
        monkeypatch.setattr(module, "provider_names", lambda: ["sim"])
    assert main(["run", PROMPT, "--store", f"sqlite:///{tmp_path / 'h.db'}"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "no provider API key is set" not in first
    assert "OPENAI_API_KEY is set but the openai adapter is not installed (pip install -e " in first
    assert "adapters/openai); " in first  # (run from this checkout: the adapter's directory in it)


def test_the_header_says_no_key_when_none_is_set() -> None:
    assert simulation_reason(env={}) == "no provider API key is set"


def test_verbose_prints_each_field_once(store_url: str) -> None:
    """The library's event lines carry their fields in the message: they are not appended a second time."""
    done = run_cli("run", PROMPT, "--json", "--store", store_url, "-v")
    assert done.returncode == 0, done.stderr
    started = [line for line in done.stderr.splitlines() if " orchestration_started " in line]
    assert len(started) == 1 and started[0].count("orchestration_id=") == 1, started
    for line in done.stderr.splitlines():
        keys = [word.split("=", 1)[0] for word in line.split() if "=" in word and word[0].isalpha()]
        assert len(keys) == len(set(keys)), line


def test_without_verbose_only_errors_are_logged(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from orchestratex.cli._logs import hide_logs, show_logs

    shown = show_logs(0)
    try:
        logging.getLogger("orchestratex.orchestrator").warning("committing failed, retrying")
        logging.getLogger("orchestratex.orchestrator").error("lost", extra={"orchestration_id": "o1"})
    finally:
        hide_logs(shown)
    err = capsys.readouterr().err
    assert "retrying" not in err
    assert err.endswith(" ERROR orchestratex.orchestrator: lost orchestration_id=o1\n")


@pytest.mark.slow
def test_a_store_retry_is_not_logged_without_verbose(tmp_path: Path) -> None:
    """Another process holds the store's write lock past its 10 s busy timeout: the run retries its commit and
    completes, and stderr stays empty (the retry is a warning, shown with -v only)."""
    import sqlite3

    path = tmp_path / "locked.db"
    proc = subprocess.Popen(
        [*CLI, "run", PROMPT, "--store", f"sqlite:///{path}", "--max-iterations", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="0.3"),  # the next commit comes within a second or two
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("▶ started")
    holder = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        holder.execute("BEGIN IMMEDIATE")
        time.sleep(13)
        holder.execute("COMMIT")
    finally:
        holder.close()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert err == ""
    assert "✔ completed" in out


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_on_a_terminal_each_event_is_one_screen_line_of_its_width(store_url: str) -> None:
    """Cut at the terminal's width (100 here), not at fixed lengths that made 160-195 character lines."""
    screen = on_a_terminal(
        ["run", PROMPT, "--threshold", "9.5", "--store", store_url], cli_env(COLUMNS="100", TERM="xterm-256color")
    )
    events = screen.split("── final answer")[0]
    lines = [line for line in screen_lines(events) if line.startswith(("▶", "#", "   answered", "   judged", "✔"))]
    assert len(lines) >= 5
    assert all(len(line) <= 100 for line in lines), [len(line) for line in lines]
    assert any(line.endswith("…") and len(line) == 100 for line in lines), "a long line fills the width, cut"


def test_fit_columns_keeps_ids_whole_and_drops_the_least_useful_columns_first() -> None:
    from orchestratex.cli._output import fit_columns

    headers = ["id", "created", "status", "prompt"]
    rows = [["6b13bd89be2c92745da3597a", "2026-12-05 07:30:17", "completed", "Explain photosynthesis " * 5]]
    assert fit_columns(headers, rows, 200, drop=(1,)) == ([0, 1, 2, 3], [24, 19, 9, 115])
    assert fit_columns(headers, rows, 80, drop=(1,)) == ([0, 1, 2, 3], [24, 19, 9, 22])
    assert fit_columns(headers, rows, 70, drop=(1,)) == ([0, 2, 3], [24, 9, 33]), "created goes, not the id"
    assert fit_columns(headers, rows, 30, drop=(1,)) == ([0, 2, 3], [24, 9, 1]), "nothing left to drop"


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_on_a_narrow_terminal_the_simulated_warning_is_whole(store_url: str) -> None:
    """On 80 columns the header line was cut at "SIMULATED — -…": the warning that no real model is called was lost."""
    args = ["run", PROMPT, "--provider", "sim", "--max-iterations", "1", "--store", store_url]
    lines = screen_lines(on_a_terminal(args, cli_env(COLUMNS="80", TERM="xterm-256color")))
    assert lines[0].startswith("▶ started") and "SIMULATED" not in lines[0]
    assert "SIMULATED — --provider sim; no real model is called" in lines[1]


def test_one_iteration_is_singular(store_url: str) -> None:
    """The header said "up to 1 iterations" and a failure "after 1 iterations"."""
    done = run_cli("run", PROMPT, "--max-iterations", "1", "--store", store_url)
    assert " · up to 1 iteration · threshold " in done.stdout.splitlines()[0]
    assert "after 1 iteration · $" in done.stdout
