"""`scripts/_venv.sh`, which `./scripts/demo` and `./scripts/test` (the README's first two commands) run first."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(sys.platform == "win32" or shutil.which("bash") is None, reason="a bash script")


def test_a_venv_left_without_pip_is_given_pip_instead_of_failing_every_time(tmp_path: Path) -> None:
    """`python3 -m venv .venv` on Debian/Ubuntu without python3-venv fails half-way, leaving a .venv with a python
    and no pip; every later `./scripts/demo` (python3-venv installed by then) skipped creating it and stopped at
    `.venv/bin/python: No module named pip` until .venv was removed by hand. (`uv venv` makes such a .venv too.)"""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "_venv.sh", tmp_path / "scripts" / "_venv.sh")
    project = '[project]\nname = "venv-probe"\nversion = "0"\n'
    (tmp_path / "pyproject.toml").write_text(project)
    (tmp_path / "adapters" / "a").mkdir(parents=True)
    (tmp_path / "adapters" / "a" / "pyproject.toml").write_text(project)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / ".venv")], check=True, timeout=120)
    venv_python = str(tmp_path / ".venv" / "bin" / "python")
    assert subprocess.run([venv_python, "-m", "pip", "--version"], capture_output=True, check=False).returncode != 0
    env = {**os.environ, "PYTHON": sys.executable, "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "1"}
    done = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "_venv.sh"), "core"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert "No module named pip" not in done.stderr, done.stderr
    assert "installing pip into .venv (it has none)" in done.stderr
    pip = subprocess.run([venv_python, "-m", "pip", "--version"], capture_output=True, text=True, check=False)
    assert pip.returncode == 0, pip.stderr
