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


# The `orchestratex` script an installer writes (`from orchestratex.cli import main; sys.exit(main())`), with a
# Ctrl-C as it loads its first module that Python had not loaded as it started: one the script's import of the
# command brought in before `main()` could take the Ctrl-C printed a traceback and ended the process by SIGINT.
_CTRL_C_IN_THE_SCRIPT = """
import importlib.abc, os, signal, sys

class CtrlC(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] != "orchestratex":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlC())
sys.argv = ["orchestratex", "--version"]
from orchestratex.cli import main
sys.exit(main())
"""


def test_ctrl_c_while_the_script_imports_the_command_is_one_line_and_130() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CTRL_C_IN_THE_SCRIPT],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
        check=False,
    )
    assert done.stderr == "orchestratex: interrupted\n"
    assert done.returncode == 130
    assert done.stdout == ""


def test_the_script_imports_no_module_before_main_takes_a_ctrl_c() -> None:
    code = (
        "import sys\nloaded = set(sys.modules)\nfrom orchestratex.cli import main\n"
        "print(' '.join(sorted(set(sys.modules) - loaded)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), timeout=60)
    assert done.stdout.split() == ["orchestratex", "orchestratex.cli"], done.stderr


# A Ctrl-C that Python swallows: the handler's KeyboardInterrupt raised inside a weak reference's callback, as when it
# lands in the one importlib runs after each module it loads (now and then, while the command loads). It
# printed `Exception ignored in: …` and the run went on to its end.
_STOP_IN_A_CALLBACK = """
import importlib.abc, os, signal, sys, weakref

class Loaded:
    pass

def stop(ref):
    os.kill(os.getpid(), signal.{signal})
    return ref  # (the handler has run by here, inside the callback)

class Stop(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            sys.meta_path.remove(self)
            loaded = Loaded()
            ref = weakref.ref(loaded, stop)
            del loaded
        return None

sys.meta_path.insert(0, Stop())
sys.argv = ["orchestratex", *{args!r}]
from orchestratex.cli import main
sys.exit(main())
"""


def test_a_ctrl_c_python_swallows_as_the_command_loads_still_stops_it() -> None:
    code = _STOP_IN_A_CALLBACK.format(
        signal="SIGINT", module="pydantic", args=["run", "Explain photosynthesis", "--store", "memory://"]
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
        check=False,
    )
    assert done.stderr == "orchestratex: interrupted\n"
    assert done.returncode == 130
    assert done.stdout == ""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM ends a process on Windows without a handler")
def test_a_sigterm_python_swallows_as_serve_loads_the_server_still_stops_it() -> None:
    """SIGTERM as `serve` loads uvicorn, raised in such a callback: the server started and served, the stop lost."""
    code = _STOP_IN_A_CALLBACK.format(
        signal="SIGTERM", module="uvicorn", args=["serve", "--port", "0", "--store", "memory://"]
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env()
    )
    try:
        out, err = server.communicate(timeout=60)
    finally:
        server.kill()
    assert "orchestratex: stopped by SIGTERM while starting: the server did not start" in err
    assert "serving" not in err
    assert server.returncode == -15
    assert out == ""
