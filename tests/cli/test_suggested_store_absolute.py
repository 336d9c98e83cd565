"""The command a message suggests for a store given by a relative SQLite path (`--store sqlite:///runs.db`) names the
file wherever it is typed: `orchestratex serve --store sqlite:///runs.db`, pasted into a new terminal (in the home
folder), served another, empty file, and never resumed the run left for it. A real process."""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CLI, PROMPT, cli_env, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]


def test_a_detached_run_names_its_relative_store_by_its_whole_path(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "home").mkdir()
    args = [*CLI, "run", PROMPT, "--max-iterations", "1", "--detach", "--store", "sqlite:///runs.db"]
    env = cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="100")  # (its model still answering when it is stopped)
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path / "project"
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("▶ started")
        assert "routed to" in proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    whole = f"sqlite:///{tmp_path / 'project' / 'runs.db'}"
    said = re.search(r"orchestration (\w+) is detached .*\(`orchestratex serve --store (.+?)`\)", err)
    assert said is not None, err
    oid, suggested = said.group(1), shlex.split(said.group(2))[0]
    assert suggested == whole

    # typed elsewhere, the store suggested is the run's
    shown = run_cli("runs", "show", oid, "--store", suggested, cwd=tmp_path / "home")
    assert shown.returncode == 0, shown.stderr
    assert f"orchestration {oid}: running" in shown.stdout
    # and `runs show` of it by the relative path names the whole one too
    shown = run_cli("runs", "show", oid, "--store", "sqlite:///runs.db", cwd=tmp_path / "project")
    assert f"(`orchestratex serve --store {whole}`)" in shown.stdout, shown.stdout
