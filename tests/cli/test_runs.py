"""`orchestratex runs list` and `orchestratex runs show`: the history kept in the store."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from orchestratex.cli import main

from .conftest import PROMPT, cli_env, on_a_terminal, run_cli, screen_lines, stored


def test_list_shows_the_runs_newest_first_in_plain_columns(store_url: str) -> None:
    for prompt in (PROMPT, "Explain photosynthesis to a child in a long and very detailed paragraph please"):
        assert run_cli("run", prompt, "--json", "--store", store_url).returncode == 0
    done = run_cli("runs", "list", "--store", store_url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["id", "created", "(UTC)"]
    docs, _ = stored(store_url)
    assert [line.split()[0] for line in lines[1:]] == [d.id for d in reversed(docs)]
    assert "Explain photosynthesis to a child in a long and very detailed paragraph please" in lines[1]  # not cut
    assert not any(c in done.stdout for c in "│┃━…"), "piped output has no box and no ellipsis"


def test_list_json_filters_and_limits(store_url: str) -> None:
    for _ in range(3):
        assert run_cli("run", PROMPT, "--json", "--store", store_url).returncode == 0
    runs = json.loads(run_cli("runs", "list", "--json", "--limit", "2", "--store", store_url).stdout)
    docs, _ = stored(store_url)
    assert [r["_id"] for r in runs] == [docs[2].id, docs[1].id]
    assert runs[0]["iterations"] == len(docs[2].iterations) and runs[0]["total_cost"] == docs[2].total_cost
    assert json.loads(run_cli("runs", "list", "--json", "--status", "failed", "--store", store_url).stdout) == []
    assert len(json.loads(run_cli("runs", "list", "--json", "--limit", "0", "--store", store_url).stdout)) == 3
    assert json.loads(run_cli("runs", "list", "--json", "--user", "nobody", "--store", store_url).stdout) == []


def test_the_threshold_also_goes_by_its_library_name(store_url: str) -> None:
    """`--evaluation-threshold`, as `evaluation_threshold` is called in Python and over REST, is `--threshold`."""
    ran = run_cli("run", PROMPT, "--evaluation-threshold", "9.5", "--json", "--store", store_url)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["settings"]["evaluation_threshold"] == 9.5


def test_show_prints_every_iteration_verdict_and_the_answer_verbatim(store_url: str) -> None:
    ran = run_cli("run", PROMPT, "--threshold", "9.5", "--json", "--store", store_url)
    result = json.loads(ran.stdout)
    done = run_cli("runs", "show", result["_id"], "--store", store_url)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"orchestration {result['_id']}: completed (simulated models)" in out
    for it in result["iterations_detail"]:
        assert f"#{it['index']} {it['model_name']}" in out
        for verdict in it["evaluation"]["verdicts"]:
            assert f"judge {verdict['judge_model']}: {verdict['score']:.1f}/10" in out
            assert " ".join(verdict["feedback"].split()) in out
    assert out.endswith(result["final_response"].rstrip("\n") + "\n"), "the answer ends the output, as it is"
    shown = json.loads(run_cli("runs", "show", result["_id"], "--json", "--store", store_url).stdout)
    assert shown["events"] == result["events"] and shown["final_response"] == result["final_response"]
    assert shown["simulated"] is True


def test_unknown_id_and_missing_store_are_one_line_errors(store_url: str, tmp_path: object) -> None:
    missing = run_cli("runs", "show", "6b11ff87809f1d5848432613", "--store", store_url)
    assert missing.returncode == 2 and "does not exist yet" in missing.stderr
    empty = run_cli("runs", "list", "--store", store_url)
    assert empty.returncode == 0 and empty.stdout == "" and "no orchestrations" in empty.stderr
    assert run_cli("run", PROMPT, "--json", "--store", store_url).returncode == 0
    unknown = run_cli("runs", "show", "nope", "--store", store_url)
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines() == [
        # (with the store given: `orchestratex runs list` alone lists another store's, the default one's)
        f"orchestratex: error: no orchestration 'nope' in {store_url} (list them with `orchestratex runs list --store "
        f"{store_url}`)"
    ]
    assert run_cli("runs", "list", "--store", "memory://").returncode == 2


def test_in_process_list_and_show(
    store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    monkeypatch.setenv("ORCHESTRATEX_STORE_URL", store_url)  # --store is optional
    assert main(["run", PROMPT, "--json", "--threshold", "9.5"]) == 0
    oid = json.loads(capsys.readouterr().out)["_id"]
    assert main(["runs", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2 and listed[1].startswith(oid)
    assert main(["runs", "list", "--status", "completed", "--json"]) == 0
    assert [r["_id"] for r in json.loads(capsys.readouterr().out)] == [oid]
    assert main(["runs", "show", oid]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"orchestration {oid}: completed") and "   judge " in shown and "routing:" in shown
    assert main(["runs", "list", "--limit", "-1"]) == 2
    assert "--limit must be >= 0" in capsys.readouterr().err


def test_a_store_url_with_synchronous_full_runs_and_a_bad_option_is_refused_in_one_line(store_url: str) -> None:
    durable = f"{store_url}?synchronous=full"
    ran = run_cli("run", PROMPT, "--json", "--store", durable)
    assert ran.returncode == 0, ran.stderr
    docs, _ = stored(durable)
    assert [d.id for d in docs] == [json.loads(ran.stdout)["_id"]]
    assert json.loads(run_cli("runs", "list", "--json", "--store", durable).stdout)[0]["_id"] == docs[0].id

    refused = run_cli("run", PROMPT, "--store", f"{store_url}?synchronous=off")
    assert refused.returncode != 0
    assert refused.stderr.strip().count("\n") == 0, refused.stderr
    assert "synchronous must be 'normal' or 'full'" in refused.stderr and "Traceback" not in refused.stderr


LONG = "Explain photosynthesis to a child in a long and very detailed paragraph please, with examples " * 2


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
@pytest.mark.parametrize("columns", [80, 120])
def test_on_a_terminal_each_run_is_one_line_with_its_whole_id(store_url: str, columns: int) -> None:
    """Ids are never cut (they are what `runs show` takes); the prompt gets the width left, on one line."""
    for prompt in (PROMPT, LONG):  # (models with short names: a 25-cell one leaves no room for "created" at 120)
        models = "sim:gpt-4o,sim:gpt-4.1,sim:o4-mini"
        assert run_cli("run", prompt, "--json", "--store", store_url, "--models", models).returncode == 0
    docs, _ = stored(store_url)
    env = cli_env(COLUMNS=str(columns), TERM="xterm-256color")
    lines = screen_lines(on_a_terminal(["runs", "list", "--store", store_url], env))
    assert len(lines) == 2 + len(docs), "a title, a header, then one line per run (nothing wraps)"
    assert all(len(line) <= columns for line in lines), [len(line) for line in lines]
    assert [line.split()[0] for line in lines[2:]] == [d.id for d in reversed(docs)]
    assert lines[1].split()[-1] == "prompt"
    long_row, short_row = lines[2], lines[3]
    assert long_row.endswith("…") and len(long_row) == columns and LONG[:10] in long_row
    assert PROMPT[:10] in short_row
    scores = [f"{d.final_score:.1f}" for d in reversed(docs) if d.final_score is not None]
    assert all(score in line for score, line in zip(scores, lines[2:], strict=True)), "scores are not cut"
    if columns >= 120:
        assert "created (UTC)" in lines[1] and "model" in lines[1]


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
@pytest.mark.parametrize("columns", [16, 24])
def test_on_a_terminal_narrower_than_an_id_the_id_is_still_whole(store_url: str, columns: int) -> None:
    """docs/cli.md: `runs list` never cuts an id (copy it into `runs show`); on a terminal of 24 columns or fewer
    (a split pane, a phone), each line cut to the screen's width gave `6b1562f4dea20159bf31eab…`."""
    assert run_cli("run", PROMPT, "--json", "--store", store_url, "--max-iterations", "1").returncode == 0
    (doc,), _ = stored(store_url)
    env = cli_env(COLUMNS=str(columns), TERM="xterm-256color")
    screen = on_a_terminal(["runs", "list", "--store", store_url], env)
    assert any(line.startswith(doc.id) for line in screen_lines(screen)), screen


@pytest.mark.parametrize(
    ("limit", "shown"),
    [("123456.78", "$123456.78"), ("0.00001", "$0.00001"), ("1000000", "$1000000"), ("2.50", "$2.5")],
)
def test_runs_show_gives_the_cost_limit_as_it_was_set(store_url: str, limit: str, shown: str) -> None:
    """`--cost-limit 123456.78` was shown as `cost limit $123457 for its session` (six significant digits), and
    `--cost-limit 0.00001` as `$1e-05`, `1000000` as `$1e+06`."""
    run = run_cli("run", "Say hello", "--cost-limit", limit, "--max-iterations", "1", "--json", "--store", store_url)
    assert run.returncode in (0, 1), run.stderr
    oid = json.loads(run.stdout)["_id"]
    shown_run = run_cli("runs", "show", oid, "--store", store_url)
    assert shown_run.returncode == 0, shown_run.stderr
    settings = next(line for line in shown_run.stdout.splitlines() if line.startswith("settings:"))
    assert f" · cost limit {shown} for its session · " in settings


def test_the_json_document_gives_the_cost_limit_the_run_ran_under(store_url: str) -> None:
    """`run --cost-limit 0.5 --json` (and `runs show --json`) said `"settings": {"cost_limit": null, …}`, as if the
    run had no limit: `--cost-limit` is its session's budget, which the document did not show."""
    run = run_cli("run", "Say hello", "--cost-limit", "0.5", "--max-iterations", "1", "--json", "--store", store_url)
    assert run.returncode in (0, 1), run.stderr
    doc = json.loads(run.stdout)
    assert doc["settings"]["cost_limit"] == 0.5
    shown = run_cli("runs", "show", doc["_id"], "--json", "--store", store_url)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["settings"]["cost_limit"] == 0.5
    # a run without a limit still says it has none
    free = json.loads(run_cli("run", "Say hello", "--max-iterations", "1", "--json", "--store", store_url).stdout)
    assert free["settings"]["cost_limit"] is None
    # an orchestration's own cap within its session's budget (a server's run): the lower of the two
    import asyncio

    from orchestratex import Orchestrator
    from orchestratex.providers import SimulatedProvider
    from orchestratex.stores import open_store

    async def capped(session_limit: float, own: float) -> str:
        store = await open_store(store_url)
        try:
            orchestrator = Orchestrator(providers=[SimulatedProvider(latency_scale=0)], store=store)
            session = await orchestrator.create_session("alice", cost_limit=session_limit)
            result = await orchestrator.run("Say hello", session=session, cost_limit=own, max_iterations=1)
            await orchestrator.aclose()
            return result.id
        finally:
            await store.close()

    for session_limit, own in ((1.0, 0.2), (0.1, 0.2)):
        oid = asyncio.run(capped(session_limit, own))
        shown = run_cli("runs", "show", oid, "--json", "--store", store_url)
        assert json.loads(shown.stdout)["settings"]["cost_limit"] == min(session_limit, own)


def test_show_gives_the_conversation_a_prompt_answered(store_url: str) -> None:
    """A run of a conversation (`/v1/chat/completions`, `run(messages)`) was shown by its prompt alone, `And times 3?`:
    what the model answered (a system message, the turns before) was in `--json` only."""
    import asyncio

    from orchestratex import Orchestrator
    from orchestratex.stores import open_store

    conversation = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And times 3?"},
    ]

    async def run(prompt: object) -> str:
        store = await open_store(store_url)
        try:
            orchestrator = Orchestrator(simulate=True, store=store)
            result = await orchestrator.run(prompt, max_iterations=1)  # type: ignore[arg-type]
            await orchestrator.aclose()
            return result.id
        finally:
            await store.close()

    shown = run_cli("runs", "show", asyncio.run(run(conversation)), "--store", store_url)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[1:6] == [
        "conversation: 3 messages before the prompt",
        "   system:    Be terse.",
        "   user:      What is 2+2?",
        "   assistant: 4",
        "prompt:   And times 3?",
    ]
    alone = run_cli("runs", "show", asyncio.run(run("What is 2+2?")), "--store", store_url)
    assert alone.stdout.splitlines()[1] == "prompt:   What is 2+2?"


def test_show_with_a_session_or_thread_id_names_its_orchestrations(store_url: str) -> None:
    """`runs show` prints a run's session and thread ids next to its own, and the server's API returns them: given
    one of them, it said only "no orchestration '…'", as if the id had been mistyped."""
    run = json.loads(run_cli("run", PROMPT, "--json", "--max-iterations", "1", "--store", store_url).stdout)
    for kind, key in (("session", "session_id"), ("thread", "thread_id")):
        done = run_cli("runs", "show", run[key], "--store", store_url)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.splitlines() == [
            f"orchestratex: error: no orchestration '{run[key]}' in {store_url}: it is the id of a {kind}, whose "
            f"orchestrations are {run['_id']} (show one with `orchestratex runs show ID --store {store_url}`)"
        ]


def test_list_says_when_it_shows_only_the_most_recent(store_url: str) -> None:
    """With more orchestrations than `--limit` (20 by default), the list ended as if that were all of them."""
    for _ in range(3):
        assert run_cli("run", "Hello", "--max-iterations", "1", "--json", "--store", store_url).returncode == 0
    some = run_cli("runs", "list", "--limit", "2", "--store", store_url)
    assert some.returncode == 0 and len(some.stdout.splitlines()) == 3  # the header and two runs
    assert some.stderr.splitlines() == [
        "orchestratex: the 2 most recent of 3 orchestrations; --limit N shows more, --limit 0 all of them"
    ]
    every = run_cli("runs", "list", "--store", store_url)
    assert every.returncode == 0 and every.stderr == "" and len(every.stdout.splitlines()) == 4
    as_json = run_cli("runs", "list", "--limit", "2", "--json", "--store", store_url)
    assert len(json.loads(as_json.stdout)) == 2  # (the note on stderr, as docs/cli.md says: `--json` said nothing)
    assert as_json.stderr.splitlines() == some.stderr.splitlines()
    assert run_cli("runs", "list", "--json", "--store", store_url).stderr == ""


def test_an_id_in_capitals_is_the_same_id(store_url: str) -> None:
    """Ids are hexadecimal digits, stored in lower case: `runs show 6B14D1…` (as some tools and fonts show hex) said
    "no orchestration" of a run the store held, and `keys revoke 6B14…` "no API key"."""
    run = json.loads(run_cli("run", PROMPT, "--json", "--max-iterations", "1", "--store", store_url).stdout)
    shown = run_cli("runs", "show", run["_id"].upper(), "--store", store_url)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"orchestration {run['_id']}: completed")
    pytest.importorskip("fastapi")  # (`keys create` needs orchestratex[server])
    assert run_cli("keys", "create", "alice", "--store", store_url).returncode == 0
    (key,) = json.loads(run_cli("keys", "list", "--json", "--store", store_url).stdout)
    revoked = run_cli("keys", "revoke", key["_id"].upper(), "--store", store_url)
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.startswith(f"orchestratex: revoked key {key['_id']} of user 'alice'")


def test_show_says_a_call_that_failed_failed_not_that_it_was_abandoned(store_url: str, tmp_path: Path) -> None:
    """Every model of the run unreachable: the run failed on its first call, and `runs show` said of that iteration
    "no answer: the call was abandoned" (as of a call a Ctrl-C stopped) above the error saying it failed."""
    import socket

    with socket.socket() as sock:  # (a port nothing listens on once it is closed)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    catalog = tmp_path / "models.toml"
    catalog.write_text(
        f'include_default = false\n\n[providers.loc]\nkind = "openai"\nbase_url = "http://127.0.0.1:{port}/v1"\n\n'
        '[[models]]\nname = "loc:a"\ncost_per_1k_tokens = 0.001\n\n'
        '[[models]]\nname = "loc:b"\ncost_per_1k_tokens = 0.001\n',
        encoding="utf-8",
    )
    failed = run_cli("run", PROMPT, "--catalog", str(catalog), "--store", store_url, "--json")
    assert failed.returncode == 1, failed.stderr
    doc = json.loads(failed.stdout)
    assert doc["status"] == "failed" and doc["iterations_detail"][-1]["errors"], doc
    done = run_cli("runs", "show", doc["_id"], "--store", store_url)
    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("#1 ")]
    assert line.endswith("(selected) · no answer: its call failed"), line
    assert "abandoned" not in done.stdout
