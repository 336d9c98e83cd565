"""`run --models` and `--provider` given more than once take every value: the last one alone was kept, and the run
routed without the models named before it, without a word."""

from __future__ import annotations

import json

from .conftest import PROMPT, run_cli


def test_models_given_twice_route_among_all_of_them() -> None:
    done = run_cli(
        "run", PROMPT, "--models", "gpt4", "--models", "claude,gpt4", "--max-iterations", "1", "--json", "--store",
        "memory://",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["settings"]["preferred_models"] == ["sim:gpt-4.1", "sim:claude-sonnet-5-5"]


def test_providers_given_twice_are_checked_as_one_list() -> None:
    mixed = run_cli("run", PROMPT, "--provider", "sim", "--provider", "openai", "--store", "memory://")
    assert mixed.returncode == 2 and mixed.stdout == ""
    assert mixed.stderr.splitlines() == [
        "orchestratex run: error: argument --provider: 'sim' cannot be combined with other providers: give it alone,"
        " or list only real providers"
    ]
    both = run_cli("run", PROMPT, "--provider", "openai", "--provider", "anthropic", "--store", "memory://")
    assert both.returncode == 2
    assert "provider 'openai' cannot be used" in both.stderr and "provider 'anthropic' cannot be used" in both.stderr
