"""Every numeric option refused is named as typed, with the range to choose from: never the library's field name
(`max_iterations: Input should be …`). Run as a process, as people run it."""

from __future__ import annotations

import argparse

import pytest

from orchestratex.cli._options import check_run_options
from orchestratex.exceptions import UserError
from orchestratex.records import OrchestrationSettings

from .conftest import run_cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "hi", "--max-iterations", "100000"], "--max-iterations must be from 1 to 50, not 100000"),
        (["run", "hi", "--max-iterations", "0"], "--max-iterations must be from 1 to 50, not 0"),
        (["run", "hi", "--max-iterations", "2.5"], "argument --max-iterations: '2.5' is not a whole number"),
        (["run", "hi", "--threshold", "11"], "--threshold must be from 0 to 10, not 11"),
        (["run", "hi", "--evaluation-threshold", "-0.5"], "--evaluation-threshold must be from 0 to 10, not -0.5"),
        (["run", "hi", "--cost-limit", "1e12"], "--cost-limit must be from 0 to 1000000, not 1000000000000"),
        (["run", "hi", "--cost-limit", "-1"], "--cost-limit must be from 0 to 1000000, not -1"),
        (["runs", "list", "--limit", "-1"], "--limit must be >= 0"),
        (["runs", "list", "--limit", "ten"], "argument --limit: 'ten' is not a whole number"),
        (["serve", "--port", "70000"], "--port must be between 0 and 65535, not 70000"),
    ],
)
def test_a_refused_number_names_the_option(args: list[str], message: str, store_url: str) -> None:
    done = run_cli(*args, "--store", store_url)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.endswith(message), line
    assert "_" not in line.split("error: ", 1)[1].split(" ")[0]  # no library field name
    assert done.stdout == ""


def test_a_limit_beyond_every_run_lists_them_all(store_url: str) -> None:
    assert run_cli("run", "hi", "--max-iterations", "1", "--store", store_url).returncode in (0, 1)
    done = run_cli("runs", "list", "--limit", "99999999999999999999", "--json", "--store", store_url)
    assert done.returncode == 0, done.stderr
    assert '"_id"' in done.stdout and "Traceback" not in done.stderr


def test_minus_zero_is_zero(store_url: str) -> None:
    done = run_cli("run", "hi", "--threshold", "-0", "--max-iterations", "1", "--store", store_url)
    assert "threshold 0/10" in done.stdout, done.stdout
    done = run_cli("run", "hi", "--threshold", "-0.0", "--max-iterations", "1", "--json", "--store", store_url)
    assert '"evaluation_threshold": 0.0' in done.stdout and "-0.0" not in done.stdout


def test_the_bounds_are_the_librarys() -> None:
    """The CLI refuses exactly what `OrchestrationSettings` refuses, so the two cannot drift apart."""
    args = argparse.Namespace(max_iterations=50, threshold=10.0, cost_limit=1_000_000.0)
    check_run_options(args)
    OrchestrationSettings(max_iterations=50, evaluation_threshold=10.0, cost_limit=1_000_000.0)
    args.max_iterations = 51
    with pytest.raises(UserError, match=r"^--max-iterations must be from 1 to 50, not 51$"):
        check_run_options(args)
