"""Ctrl-C while the command is still loading its modules (most of a second): one line and 130, not a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import cli_env

# A Ctrl-C that comes while `module` is imported: the process sends itself SIGINT as the import begins, as a
# terminal does when Ctrl-C is pressed at that moment. Then the command runs as `python -m orchestratex` runs it.
_CTRL_C_DURING_IMPORT = """
import importlib.abc, os, runpy, signal, sys

class CtrlC(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlC())
sys.argv = ["orchestratex", *{args!r}]
runpy.run_module("orchestratex", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("orchestratex.cli._main", ["runs", "list"]),  # the command's own modules
        ("pydantic", ["--version"]),  # a library they load
    ],
)
def test_ctrl_c_while_the_command_loads_is_one_line_and_130(module: str, args: list[str]) -> None:
    code = _CTRL_C_DURING_IMPORT.format(module=module, args=args)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), timeout=60, check=False
    )
    assert done.stderr == "orchestratex: interrupted\n"
    assert done.returncode == 130
    assert done.stdout == ""
