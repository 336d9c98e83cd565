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
