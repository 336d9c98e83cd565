"""The benchmark scripts as a user runs them: bad arguments are one argparse error, flags win over `--quick`, and
the smallest runs work. No timing is asserted: the scripts print their figures, these tests only read labels."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
FALLBACK_DATA = ROOT.parent / "shared" / "data" / "routing"  # the scripts' default, next to the repository


def run(script: str | Path, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a benchmark script on this tree's sources; `env` sets variables, or with "" unsets them."""
    environ = dict(os.environ)
    for name, value in env.items():
        if value:
            environ[name] = value
        else:
            environ.pop(name, None)
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), environ.get("PYTHONPATH")]))
    path = script if isinstance(script, Path) else BENCHMARKS / script
    return subprocess.run(
        [sys.executable, str(path), *args], capture_output=True, text=True, timeout=timeout, env=environ
    )


BAD_ARGUMENTS = [
    ("overhead.py", "--rounds", "0"),
    ("overhead.py", "--orchestrations", "-3"),
    ("tracing.py", "--orchestrations", "0"),
    ("phases.py", "--runs", "0"),
    ("openai_compat.py", "--streams", "0"),
    ("reservations.py", "--rows", "0"),
    ("concurrency.py", "--latencies", "-0.05"),
    ("concurrency.py", "--latencies", "abc"),
    ("concurrency.py", "--concurrent", "0"),
    ("inflight_memory.py", "--runs", "0"),
    ("adapters.py", "--calls", "0"),
    ("server.py", "--connections", "0"),
    ("analytics.py", "--commits", "0"),
    ("stream_latency.py", "--runs", "0"),
    ("store_roundtrips.py", "--latency", "0"),
    ("before_after.py", "--rounds", "0"),
    ("before_after.py", "--ref", "nosuchref"),
    ("sdk_burst.py", "--calls", "0"),
    ("routing_online_study.py", "--seeds", "0"),
]


@pytest.mark.parametrize(("script", "flag", "value"), BAD_ARGUMENTS)
def test_a_bad_argument_is_one_argparse_error(script: str, flag: str, value: str) -> None:
    done = run(script, f"{flag}={value}", timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"{script}: error: argument {flag}: ")


def test_server_only_starts_needs_orchestrations_to_start() -> None:
    done = run("server.py", "--only-starts", "--http-orchestrations", "0", timeout=60)
    assert done.returncode == 2
    assert "--only-starts runs section 5 alone" in done.stderr.strip().splitlines()[-1]


def test_flags_given_with_quick_keep_their_values() -> None:
    done = run(
        "overhead.py",
        *("--quick", "--rounds", "1", "--orchestrations", "2", "--no-litellm", "--fill", "0", "--import-runs", "1"),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 interleaved rounds; each: 2 orchestrations x 2 model calls")
    done = run(
        "concurrency.py",
        *("--quick", "--latencies", "0.001", "--concurrent", "2", "--rss-orchestrations", "0"),
        "--sizes=",
    )
    assert done.returncode == 0, done.stderr
    assert "1 ms per call, MemoryStore" in done.stdout
    assert "\n2. " not in done.stdout  # no memory run, as asked
    assert "\n3. " not in done.stdout  # no simulator run, as asked


def test_tracing_runs() -> None:
    done = run("tracing.py", "--orchestrations", "1", "--rounds", "1")
    assert done.returncode == 0, done.stderr
    assert "1 orchestrations x 6 model calls per configuration and round, 1 rounds" in done.stdout
    assert "API installed, no SDK configured" in done.stdout


def test_store_roundtrips_counts_a_one_iteration_run() -> None:
    done = run(
        "store_roundtrips.py", "--orchestrations", "1", "--concurrent", "0", "--rounds", "1", "--iterations", "1"
    )
    assert done.returncode == 0, done.stderr
    assert "MemoryStore  calls/run      this:       3.0" in done.stdout


def test_store_roundtrips_refuses_a_baseline_without_sources(tmp_path: Path) -> None:
    done = run("store_roundtrips.py", "--baseline", str(tmp_path / "nonexistent"), timeout=60)
    assert done.returncode == 2
    assert "has no src/orchestratex" in done.stderr.strip().splitlines()[-1]


def test_store_roundtrips_runs_the_baseline_tree(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "orchestratex").symlink_to(ROOT / "src" / "orchestratex")
    done = run(
        "store_roundtrips.py",
        *("--baseline", str(tmp_path), "--orchestrations", "1", "--concurrent", "0", "--rounds", "1"),
    )
    assert done.returncode == 0, done.stderr
    assert f"baseline: {tmp_path / 'src' / 'orchestratex' / '__init__.py'}" in done.stdout.splitlines()


def test_store_roundtrips_shows_why_a_baseline_failed(tmp_path: Path) -> None:
    package = tmp_path / "src" / "orchestratex"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('this baseline is broken')\n")
    done = run("store_roundtrips.py", *("--baseline", str(tmp_path), "--orchestrations", "1", "--concurrent", "0"))
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "ImportError: this baseline is broken" in done.stderr
    assert "CalledProcessError" not in done.stderr


def test_reservations_without_data_says_so_in_one_line(tmp_path: Path) -> None:
    copy = tmp_path / "repo" / "benchmarks"  # no ../shared/data/routing next to this repository
    copy.mkdir(parents=True)
    for name in ("reservations.py", "_args.py", "_data.py"):
        shutil.copy(BENCHMARKS / name, copy / name)
    done = run(copy / "reservations.py", ORCHESTRATEX_DATA_DIR="")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"reservations.py: routing data not found at {str(tmp_path / 'shared' / 'data' / 'routing')!r} (the default"
        " (pass --data)): no such directory; name the directory holding routerbench/ and routellm/"
    ]


@pytest.mark.skipif(not (FALLBACK_DATA / "routerbench").is_dir(), reason="no RouterBench data next to the repository")
def test_reservations_finds_the_data_next_to_the_repository() -> None:
    done = run("reservations.py", "--rows", "2", ORCHESTRATEX_DATA_DIR="")
    assert done.returncode == 0, done.stderr
    assert "test: 2 generation calls on 2 prompts" in done.stdout


def test_inflight_memory_reports_the_cyclic_garbage() -> None:
    done = run("inflight_memory.py", "--runs", "2", "--top", "1")
    assert done.returncode == 0, done.stderr
    assert "cyclic garbage at that point (what a full collection would free): 0 objects per run" in done.stdout
