"""The `orchestratex` command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestratex.catalog import ModelCatalog
from orchestratex.cli import main


@pytest.fixture(autouse=True)
def _fast_sim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    monkeypatch.setenv("ORCHESTRATEX_STORE_URL", f"sqlite:///{tmp_path / 'cli.db'}")


def test_run_json_prints_the_result_document(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "Write a Python function to calculate fibonacci numbers", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    for key in ("_id", "final_response", "final_score", "iterations", "total_cost", "stop_reason", "events"):
        assert key in out
    assert out["simulated"] is True
    assert out["events"][0]["type"] == "orchestration_started"
    assert out["events"][-1]["type"] == "orchestration_completed"
    assert out["iterations"] == len(out["iterations_detail"]) >= 1


def test_run_persists_router_statistics_across_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):
        assert main(["run", "Write a Python function to sort a list", "--json", "--domain", "coding"]) == 0
    capsys.readouterr()
    import asyncio

    from orchestratex import SQLiteStore

    async def stats() -> int:
        async with SQLiteStore(tmp_path / "cli.db") as store:
            return sum(s.n for s in await store.routing_stats("bayesian"))

    assert asyncio.run(stats()) >= 2


def test_run_shows_a_live_view(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "Explain photosynthesis", "--threshold", "5"]) == 0
    out = capsys.readouterr().out
    assert "SIMULATED" in out
    assert "routed to" in out and "answered" in out and "judged" in out and "completed" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "   "], "prompt is empty"),
        (["run", "hi", "--models", "gpt-17"], "unknown model 'gpt-17'"),
        (["run", "hi", "--cost-limit", "-1"], "--cost-limit must be from 0 to 1000000, not -1"),
        (["run", "hi", "--threshold", "11"], "--threshold must be from 0 to 10, not 11"),
        (["run", "hi", "--threshold", "high"], "'high' is not a number"),
        (["run", "hi", "--cost-limit", "nan"], "argument --cost-limit: 'nan' is not a finite number"),
        (["run", "hi", "--cost-limit", "inf"], "argument --cost-limit: 'inf' is not a finite number"),
        (
            ["run", "hi", "--threshold", "NaN"],
            "argument --threshold/--evaluation-threshold: 'NaN' is not a finite number",
        ),
        (["run", "hi", "--max-iterations", "0"], "--max-iterations must be from 1 to 50, not 0"),
        (["run", "hi", "--provider", "nope"], "unknown provider 'nope'"),
        (["run", "hi", "--store", "nosuch://x"], "no store is installed for nosuch://"),
        (["run"], "the following arguments are required: prompt"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    if argv == ["run"] or {"high", "nan", "inf", "NaN"} & set(argv):  # refused by argparse itself
        with pytest.raises(SystemExit) as exited:
            main(argv)
        code = exited.value.code
    else:
        code = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert message in lines[0]
    assert "Traceback" not in captured.err
    assert code == 2


def test_real_provider_without_key_names_the_variable(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "hi", "--provider", "anthropic"])
    err = capsys.readouterr().err
    assert code == 2
    assert "ANTHROPIC_API_KEY" in err


def test_models_lists_catalog_and_provider_state(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["simulated"] is True
    assert "openai:gpt-4.1" in [m["name"] for m in data["models"]]
    assert data["aliases"]["gpt4"] == "openai:gpt-4.1"
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "offline" in out and "gpt-4.1" in out


def test_demo_runs_a_full_orchestration_offline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--fast", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    types = [e["type"] for e in data["events"]]
    assert types[0] == "orchestration_started" and types[-1] == "orchestration_completed"
    assert types.count("evaluation_completed") >= 2, "the demo should show a refinement"
    # as docs/cli.md describes it: a cheap model first, then two refinements that switch models
    models = [it["model_name"] for it in data["iterations_detail"]]
    assert data["iterations"] == 3 and len(set(models)) == 3, models
    assert [it["phase"] for it in data["iterations_detail"]] == ["evaluated"] * 3
    assert data["status"] == "completed" and data["stop_reason"] == "threshold"
    catalog = ModelCatalog.default().simulated()
    prices = [catalog.get(m).output_cost_per_1k or 0 for m in models]
    assert prices[0] == min(prices), f"the first model should be the cheap one: {models}"


def test_console_script_entry_point(tmp_path: Path) -> None:
    env = {**os.environ, "ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "orchestratex.cli", "run", "", "--json"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "orchestratex: error: the prompt is empty: give the text to orchestrate"


def test_python_dash_m_orchestratex_runs_the_command(tmp_path: Path) -> None:
    """`python -m orchestratex` is the `orchestratex` command (a venv whose scripts are not on PATH)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(ORCHESTRATEX_SIM_LATENCY_SCALE="0", ORCHESTRATEX_STORE_URL=f"sqlite:///{tmp_path / 'm.db'}")
    command = [sys.executable, "-m", "orchestratex"]
    version = subprocess.run([*command, "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert (version.returncode, version.stdout.split()[0]) == (0, "orchestratex")
    run = subprocess.run([*command, "run", "Say hi", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["status"] == "completed"
    bad = subprocess.run([*command, "run", ""], capture_output=True, text=True, env=env, timeout=60)
    assert (bad.returncode, bad.stderr.strip()) == (
        2,
        "orchestratex: error: the prompt is empty: give the text to orchestrate",
    )
