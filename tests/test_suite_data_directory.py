"""The suite's own `conftest.py`: a test using the default store (the CLI without `--store`, `open_store()`) keeps its
runs out of the user's data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SUITE = """
import asyncio
import os
import subprocess
import sys

from orchestratex.stores import open_store


def test_runs_the_cli_without_a_store():
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATEX_")}
    done = subprocess.run(
        [sys.executable, "-m", "orchestratex.cli", "run", "Say hi", "--max-iterations", "1"],
        env={**env, "ORCHESTRATEX_SIM_LATENCY_SCALE": "0"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_opens_the_default_store_in_process():
    async def use():
        store = await open_store()
        await store.close()

    asyncio.run(use())
"""


def test_a_test_using_the_default_store_leaves_the_users_data_directory_alone(tmp_path: Path) -> None:
    """`orchestratex run` without `--store` in `tests/cli/test_domain_option.py` kept its runs in
    `~/.local/share/orchestratex/orchestratex.db`, so each run of the suite added two to the runs of whoever ran it."""
    (tmp_path / "conftest.py").write_text(Path(__file__).with_name("conftest.py").read_text(), encoding="utf-8")
    (tmp_path / "test_default_store.py").write_text(SUITE, encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATEX_") and k != "XDG_DATA_HOME"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:asyncio",
            "-W",
            "error",
            f"--basetemp={tmp_path / 'bt'}",
        ],
        cwd=tmp_path,
        env={**env, "HOME": str(home), "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    assert not (home / ".local" / "share" / "orchestratex").exists()
    assert list((tmp_path / "bt").glob("data-home*/orchestratex/orchestratex.db"))  # (where the runs went)
