"""Usage errors name what to type: the subcommands to choose from (never argparse's internal names such as
`runs_command`), and how to give a prompt that starts with '-'."""

from __future__ import annotations

import shlex

import pytest

from .conftest import cli_env, run_cli


@pytest.mark.parametrize(
    ("args", "ending"),
    [
        (["runs"], "orchestratex runs: error: the following arguments are required: {list,show}"),
        (["keys"], "orchestratex keys: error: the following arguments are required: {create,list,revoke}"),
        (
            ["runs", "lst"],
            "orchestratex runs: error: argument {list,show}: invalid choice: 'lst' (choose from 'list', 'show'); did"
            " you mean `orchestratex runs list`?",
        ),
        (
            [],  # said "the following arguments are required: command", argparse's internal name, and no choices
            "orchestratex: error: the following arguments are required: {run,demo,models,serve,runs,keys} "
            "(`orchestratex --help` says what each command does)",
        ),
        (
            ["-v"],
            "orchestratex: error: the following arguments are required: {run,demo,models,serve,runs,keys} "
            "(`orchestratex --help` says what each command does)",
        ),
        (
            ["rnu"],
            "orchestratex: error: argument {run,demo,models,serve,runs,keys}: invalid choice: 'rnu' (choose from "
            "'run', 'demo', 'models', 'serve', 'runs', 'keys'); did you mean `orchestratex run`?",
        ),
    ],
)
def test_a_missing_or_unknown_subcommand_names_the_choices(args: list[str], ending: str) -> None:
    done = run_cli(*args)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [ending]
    assert "_command" not in done.stderr


def test_a_prompt_taken_for_an_option_says_how_to_give_it(store_url: str) -> None:
    done = run_cli("run", "-x", "--store", store_url)
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("orchestratex run: error: the following arguments are required: prompt: ")
    assert "one that starts with '-' goes after `--`" in line
    given = run_cli("run", "--max-iterations", "1", "--json", "--store", store_url, "--", "-x")
    assert given.returncode == 0, given.stderr
    assert '"prompt": "-x"' in given.stdout


@pytest.mark.parametrize("prompt", ["-hello", "-vhi"])
def test_a_prompt_read_as_short_options_says_how_to_give_it(prompt: str, store_url: str) -> None:
    # argparse reads `-hello` as `-h` with the argument `ello`: its error named no prompt at all
    done = run_cli("run", prompt, "--store", store_url)
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("orchestratex run: error: argument -h/--help: ignored explicit argument ")
    assert line.endswith("if that was the prompt, one that starts with '-' goes after `--`: orchestratex run -- PROMPT")


@pytest.mark.parametrize(
    ("words", "quoted"),
    [
        (["Explain", "photosynthesis", "briefly"], '"Explain photosynthesis briefly"'),
        (["What's", "up"], '"What\'s up"'),
        (["cost", "in", "$USD"], "'cost in $USD'"),
    ],
)
def test_an_unquoted_prompt_of_several_words_is_told_to_be_quoted(
    store_url: str, words: list[str], quoted: str
) -> None:
    """`orchestratex run Explain photosynthesis` said only `unrecognized arguments: photosynthesis`."""
    done = run_cli("run", *words, "--max-iterations", "1", "--store", store_url)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"orchestratex: error: unrecognized arguments: {' '.join(words[1:])}; a prompt of several words goes in "
        f"quotes, as one argument: orchestratex run {quoted} --max-iterations 1 --store {store_url}"
    ]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        (  # the budget and the store were dropped: the command copied from the hint ran without them
            ["run", "Explain", "photosynthesis", "--cost-limit", "0.05", "--json"],
            ["run", "Explain photosynthesis", "--cost-limit", "0.05", "--json"],
        ),
        (["-v", "run", "--domain", "math", "math", "is", "fun"], ["-v", "run", "--domain", "math", "math is fun"]),
        (
            ["run", "--cost", "0.05", "Explain", "it", "--models=gpt4"],
            ["run", "--cost", "0.05", "Explain it", "--models=gpt4"],
        ),
    ],
)
def test_the_command_to_type_instead_keeps_the_options_typed(
    store_url: str, typed: list[str], meant: list[str]
) -> None:
    """The hint is a command to copy: it gave the prompt alone (`orchestratex run "Explain photosynthesis"`), so the
    copied command ran with no `--cost-limit`, in the default store, without `--json`."""
    env = cli_env(ORCHESTRATEX_STORE_URL=store_url)
    done = run_cli(*typed, env=env)
    assert done.returncode == 2 and done.stdout == ""
    hint = done.stderr.strip().split("as one argument: orchestratex ", 1)[1]
    assert shlex.split(hint) == meant
    again = run_cli(*shlex.split(hint), "--max-iterations", "1", env=env)  # (the hint, copied, runs as meant)
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize("args", [["run", "Hello", "--bogus"], ["run", "-", "extra"], ["runs", "list", "extra"]])
def test_other_unrecognized_arguments_are_named_without_a_prompt_hint(args: list[str]) -> None:
    done = run_cli(*args)
    assert done.returncode == 2
    assert done.stderr.startswith("orchestratex: error: unrecognized arguments: ")
    assert "quotes" not in done.stderr


@pytest.mark.parametrize(
    ("args", "level"),
    [
        (["-v", "run", "x"], 1),
        (["run", "x", "-v"], 1),
        (["-v", "run", "x", "-v"], 2),  # counted 1: the subcommand's count replaced the one before its name
        (["--verbose", "runs", "list", "--verbose"], 2),
        (["run", "x", "-vv"], 2),
        (["models"], 0),
    ],
)
def test_verbose_flags_count_before_and_after_the_command(
    monkeypatch: pytest.MonkeyPatch, args: list[str], level: int
) -> None:
    """docs/cli.md: `-v`/`--verbose` goes before or after the command's name, `-vv` adds DEBUG."""
    from orchestratex.cli import _main

    seen: list[int] = []
    monkeypatch.setattr(_main, "show_logs", lambda verbosity: seen.append(verbosity))
    monkeypatch.setattr(_main, "_dispatch", lambda parsed: 0)
    assert _main.main(args) == 0
    assert seen == [level]


@pytest.mark.parametrize(("given", "meant"), [("GPT4", "gpt4"), ("Sim:GPT-4o", "sim:gpt-4o"), ("GPT-4O", "gpt-4o")])
def test_a_model_in_another_letter_case_is_named_as_meant(store_url: str, given: str, meant: str) -> None:
    """`--models GPT4` said `unknown model 'GPT4'; known models: …` listing full names only, so the alias `gpt4` it
    missed by its case appeared nowhere."""
    done = run_cli("run", "Hello", "--models", given, "--store", store_url)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(
        f"orchestratex: error: unknown model {given!r}: did you mean {meant!r}? (names and aliases are matched "
        "exactly); known models: "
    )
    assert run_cli("run", "Hello", "--models", meant, "--max-iterations", "1", "--store", store_url).returncode == 0


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        (["run", "--", "-5x+3=0", "--json"], ["run", "--json", "--", "-5x+3=0"]),
        (
            ["-v", "run", "--cost-limit", "1", "--", "-5 squared?", "--max-iterations", "1", "--json"],
            ["-v", "run", "--cost-limit", "1", "--max-iterations", "1", "--json", "--", "-5 squared?"],
        ),
    ],
)
def test_options_typed_after_the_double_dash_are_told_to_go_before_it(
    store_url: str, typed: list[str], meant: list[str]
) -> None:
    """`orchestratex run -- -5x+3=0 --json`, as docs/cli.md gives a prompt that starts with '-' plus an option at the
    end: "unrecognized arguments: --json", as if `run` had no `--json`. The error now says options go before `--`,
    with the command to type."""
    env = cli_env(ORCHESTRATEX_STORE_URL=store_url)
    done = run_cli(*typed, env=env)
    assert done.returncode == 2 and done.stdout == ""
    assert "; after `--` every word is the prompt's, so options go before it: orchestratex " in done.stderr
    hint = done.stderr.strip().split("so options go before it: orchestratex ", 1)[1]
    assert shlex.split(hint) == meant
    again = run_cli(*shlex.split(hint), env=env)  # (the hint, copied, runs as meant)
    assert again.returncode in (0, 1), again.stderr
