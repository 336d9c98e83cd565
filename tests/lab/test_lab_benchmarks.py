"""The lab's benchmark scripts as processes: a bad data path or argument is one line and exit code 2, at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestratex import lab

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str, data: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != lab.DATA_ENV}
    env["PYTHONPATH"] = str(ROOT / "src")
    if data is not None:
        env[lab.DATA_ENV] = str(data)
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cascade_names_the_given_directory_that_does_not_exist(tmp_path: Path) -> None:
    done = _run("cascade.py", "--data", str(tmp_path / "nowhere"))
    assert done.returncode == 2 and not done.stdout
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"{str(tmp_path / 'nowhere')!r} (--data): no such directory" in done.stderr
    assert lab.DATA_ENV not in done.stderr  # --data was given: no advice to set the variable


@pytest.mark.parametrize("script", ["cascade.py", "routing.py"])
def test_a_data_directory_without_the_data_names_what_is_missing(script: str, tmp_path: Path) -> None:
    done = _run(script, data=tmp_path)
    assert done.returncode == 2 and not done.stdout
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"{str(tmp_path)!r} (${lab.DATA_ENV}): no routerbench/arc_challenge_train.csv" in done.stderr


def test_routing_refuses_zero_seeds_before_running(tmp_path: Path) -> None:
    done = _run("routing.py", "--seeds", "0", data=tmp_path)
    assert done.returncode == 2 and "--seeds: a whole number >= 1" in done.stderr


def test_the_cascade_oracle_follows_rows_not_prompt_text() -> None:
    # Two rows share a prompt with different outcomes (RouteLLM's MMLU has 105 such repeats). Before, the oracle
    # looked the row up by text and answered both from the first: 'cheap' on the second row, which it gets wrong.
    code = """
import asyncio
import numpy as np
from cascade import OracleRouter
from orchestratex import lab
table = lab.OutcomeTable(
    name="t", models=("cheap", "dear"), prompts=("same", "same", "other"),
    quality=np.array([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]]), cost=np.tile([0.001, 0.01], (3, 1)),
)
replay = asyncio.run(lab.replay_loop(table, router=OracleRouter(table), max_iterations=1))
print([o.final_model for o in replay.outcomes], replay.quality)
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "benchmarks")])}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["['cheap',", "'dear',", "'cheap']", "1.0"]


@pytest.mark.parametrize("script", ["cascade.py", "routing.py"])
def test_a_damaged_data_file_is_one_line_naming_it(script: str, tmp_path: Path) -> None:
    # Before: a traceback ending in the loader's UserError.
    for task in lab.ROUTERBENCH_TASKS:
        for split in ("train", "test"):
            (tmp_path / "routerbench").mkdir(exist_ok=True)
            (tmp_path / "routerbench" / f"{task}_{split}.csv").write_text("")
    for name in ("gsm8k/gsm8k_responses.csv", "mt_bench/question.jsonl", "mmlu/mmlu_x.csv"):
        (tmp_path / "routellm" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "routellm" / name).write_text("")
    done = _run(script, data=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.stderr.count("\n") == 1
    assert f"{script}: {str(tmp_path / 'routerbench' / 'arc_challenge_train.csv')!r} is empty" in done.stderr


def test_cascade_refuses_a_negative_judge_price(tmp_path: Path) -> None:
    done = _run("cascade.py", "--judge-price", "-1", data=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--judge-price: must be a number >= 0, got '-1'" in done.stderr
