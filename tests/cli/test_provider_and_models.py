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
    # the provider's own models are taken, by any name
    done = run_cli(
        "run", "hi", "--catalog", str(tmp_path / "models.toml"), "--provider", "local", "--models", "foo",
        "--max-iterations", "1", "--json", "--store", f"sqlite:///{store}", env=env,
    )  # fmt: skip
    assert [it["model_name"] for it in json.loads(done.stdout)["iterations_detail"]] == ["local:foo"], done.stderr
