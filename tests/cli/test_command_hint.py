"""A command name mistyped or left out (`orchestratex "Explain photosynthesis"`, as `llm "…"` takes a prompt;
`orchestratex list`, `orchestratex runs lst`): the error says the command meant, not only the list of choices."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import cli_env, run_cli

_CHOICES = "(choose from 'run', 'demo', 'models', 'serve', 'runs', 'keys')"


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["Explain photosynthesis"], 'to orchestrate a prompt: orchestratex run "Explain photosynthesis"'),
        (
            ["-v", "Explain", "photosynthesis", "--cost-limit", "0.05"],
            'to orchestrate a prompt: orchestratex -v run "Explain photosynthesis" --cost-limit 0.05',
        ),
        (["What's 2+2?"], 'to orchestrate a prompt: orchestratex run "What\'s 2+2?"'),
        (["Cost in $?"], "to orchestrate a prompt: orchestratex run 'Cost in $?'"),
        (["list"], "did you mean `orchestratex runs list`?"),
        (["modles"], "did you mean `orchestratex models`?"),
        (["help"], "for help: orchestratex --help (or orchestratex COMMAND --help)"),
        (["version"], "for the version: orchestratex --version"),
    ],
)
def test_a_command_left_out_or_mistyped_is_named(argv: list[str], hint: str, tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    done = run_cli(*argv, env=cli_env(ORCHESTRATEX_STORE_URL=f"sqlite:///{store}"))
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    word = argv[1] if argv[0] == "-v" else argv[0]
    assert line == f"orchestratex: error: argument {{run,demo,models,serve,runs,keys}}: invalid choice: {word!r} " + (
        f"{_CHOICES}; {hint}"
    )
    assert not store.exists()


def test_a_subcommand_mistyped_is_named() -> None:
    done = run_cli("runs", "lst")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "orchestratex runs: error: argument {list,show}: invalid choice: 'lst' (choose from 'list', 'show'); did you"
        " mean `orchestratex runs list`?"
    ]
