"""Building blocks for orchestrator tests: a catalog of function-served models and scripted judges."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, ModelProfile
from orchestratex.orchestrator import RetryPolicy


def catalog(
    *names: str,
    price: float = 0.001,
    output_price: float | None = None,
    quality: Mapping[str, float] | None = None,
) -> ModelCatalog:
    """Models `function:<name>` at `price` per 1k tokens in and out (`output_price` out, when given; distinct
    qualities steer the router)."""
    quality = quality or {}
    return ModelCatalog(
        ModelProfile(
            name=f"function:{n}",
            input_cost_per_1k=price,
            output_cost_per_1k=price if output_price is None else output_price,
            context_window=100_000,
            max_output_tokens=1000,
            quality=quality.get(n, 7.0),
        )
        for n in names
    )


def scripted(
    answers: Callable[[GenerationRequest], str], scores: Callable[[GenerationRequest], float]
) -> FunctionProvider:
    """A provider answering generations with `answers` and judge calls with JSON built from `scores`."""

    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": scores(request), "feedback": f"feedback from {request.model.name}"})
        return answers(request)

    return FunctionProvider(fn)


def attempt_number(request: GenerationRequest) -> int:
    """1 for a first attempt; n+1 when the prompt refines an answer that said `attempt n`."""
    found = re.findall(r"attempt (\d+)", request.messages[-1].content)
    return int(found[-1]) + 1 if found else 1


def answer_attempt(request: GenerationRequest) -> str:
    return f"answer by {request.model.name}, attempt {attempt_number(request)}"


def score_of_answer(table: Mapping[int, float]) -> Callable[[GenerationRequest], float]:
    """Judge scores by the attempt number written in the judged answer."""

    def score(request: GenerationRequest) -> float:
        found = re.findall(r"attempt (\d+)", request.messages[-1].content)
        return table.get(int(found[-1]) if found else 1, 5.0)

    return score


NO_WAIT = RetryPolicy(max_attempts=3, initial_wait=0, max_wait=0)


def mypy_strict(*programs: Path, cache_dir: Path) -> tuple[str, str, int]:
    """`mypy --strict --follow-imports=silent` of `programs`, this tree's package first (`MYPYPATH`), in a process of
    its own: its output, errors and exit status, as `mypy.api.run` gives them. Run in the test process, each check left
    about 1.7 million objects there, and every later full garbage collection of the suite walked them all: pauses of a
    second and more on a loaded runner, past the short leases and waits of later tests."""
    pytest.importorskip("mypy")
    env = {**os.environ, "MYPYPATH": str(Path(__file__).resolve().parents[1] / "src")}
    args = ["--strict", "--follow-imports=silent", f"--cache-dir={cache_dir}", *map(str, programs)]
    done = subprocess.run(
        [sys.executable, "-m", "mypy", *args], capture_output=True, text=True, env=env, timeout=900, check=False
    )
    return done.stdout, done.stderr, done.returncode
