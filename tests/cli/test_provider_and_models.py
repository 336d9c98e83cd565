"""`orchestratex run --provider P --models M`: a model of a provider `--provider` leaves out is refused, by name."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import cli_env, run_cli

CATALOG = """
[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"

[[models]]
name = "local:foo"
input_cost_per_1k = 0
output_cost_per_1k = 0
"""


def test_a_model_of_a_provider_left_out_is_refused_naming_both(tmp_path: Path) -> None:
    # (a closed port: nothing could be paid for, had a call been made)
    env = cli_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    store = tmp_path / "runs.db"
    # "unknown model 'claude'", of the catalog's own alias: it was looked up among openai's models only
    done = run_cli("run", "hi", "--provider", "openai", "--models", "claude", "--store", f"sqlite:///{store}", env=env)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "orchestratex: error: --models claude (anthropic:claude-sonnet-5-5) is a model of anthropic, which --provider"
        " openai leaves out: name models of openai, or add anthropic (--provider openai,anthropic)"
    ]
    # with a catalog file, the run was routed to openai:gpt-4.1, `--provider local` ignored
    (tmp_path / "models.toml").write_text(CATALOG)
    done = run_cli(
        "run", "hi", "--catalog", str(tmp_path / "models.toml"), "--provider", "local", "--models", "gpt4",
        "--store", f"sqlite:///{store}", env=env,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "orchestratex: error: --models gpt4 (openai:gpt-4.1) is a model of openai, which --provider local leaves out:"
        " name models of local, or add openai (--provider local,openai)"
    ]
    assert not store.exists()
    # the provider's own models are taken, by any name (judged by the providers named alone: openai, here)
    done = run_cli(
        "run", "hi", "--catalog", str(tmp_path / "models.toml"), "--provider", "local,openai", "--models", "foo",
        "--max-iterations", "1", "--json", "--store", f"sqlite:///{store}", env=env,
    )  # fmt: skip
    assert [it["model_name"] for it in json.loads(done.stdout)["iterations_detail"]] == ["local:foo"], done.stderr


def test_a_model_no_other_can_judge_is_told_what_the_command_can_do(tmp_path: Path) -> None:
    """A catalog file of one model said to "pass Orchestrator(evaluator=...) …; or take single answers unjudged:
    judging="when_needed" and max_iterations=1": no option of the command does either, and `--max-iterations 1`,
    tried as told, failed the same."""
    (tmp_path / "models.toml").write_text(CATALOG)  # (no provider key set: its model is the only one configured)
    for extra in ([], ["--max-iterations", "1"]):
        done = run_cli(
            "run", "hi", "--catalog", str(tmp_path / "models.toml"), *extra, "--store", f"sqlite:///{tmp_path / 'r.db'}"
        )
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.splitlines() == [
            "orchestratex: error: no model can judge the answers of local:foo: a judge must be another model. Add a"
            " judge: configure a second provider (e.g. set ANTHROPIC_API_KEY or GEMINI_API_KEY), or add a second"
            " model to a catalog file (--catalog FILE; a local one at price 0 will do)"
        ]
