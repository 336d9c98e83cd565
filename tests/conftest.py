"""Real provider requests are blocked, and provider keys hidden, for the whole test run; the loggers and interpreter
settings a server configures are put back after each test; a process a test started and left running is killed after
it; `ast.parse` runs in one thread at a time; the user's data directory (the default store's) is a folder of the
session's own. Also `small_disk` (a tmpfs of 2 MiB) and `fill_disk`, for the tests of a full disk."""

from __future__ import annotations

import ast
import contextlib
import errno
import functools
import gc
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestratex.testing.fixtures import block_model_requests, hide_provider_variables

__all__ = [
    "fill_disk",
    "hide_provider_variables",
    "processes_reaped",
    "serve_process_settings_restored",
    "server_logging_restored",
    "small_disk",
    "user_data_directory_untouched",
]

block_model_requests()

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    # Run as a background job of a script (`scripts/test &`, a CI step that puts it there), the suite starts with
    # SIGINT ignored, as the shell starts such jobs, and every process the tests start inherited that: the tests of
    # Ctrl-C (a `run` interrupted, `keys create` waiting for the store, a server starting) saw it ignored and failed.
    # With Python's own handler here, a process started from the suite begins with SIGINT's default action again.
    signal.signal(signal.SIGINT, signal.default_int_handler)

_CONFIGURED = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "orchestratex")
"""The loggers that `uvicorn.Config` and `orchestratex serve` configure for the whole process."""


@pytest.fixture(scope="session", autouse=True)
def user_data_directory_untouched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A test running the CLI, a server or `open_store()` without a store used the default one, the SQLite file in
    the user's data directory (`~/.local/share/orchestratex/orchestratex.db`): each run of the suite added its
    prompts to the runs of the person running it (`orchestratex runs list` showed them). The data directory is a
    folder of the session's own (`XDG_DATA_HOME`), for the tests and every process they start with this
    environment; a test of the default location sets its own."""
    saved = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("data-home"))
    yield
    if saved is None:
        os.environ.pop("XDG_DATA_HOME", None)
    else:
        os.environ["XDG_DATA_HOME"] = saved


@pytest.fixture(autouse=True)
def server_logging_restored() -> Iterator[None]:
    """A test that served in-process (`uvicorn.Config`, `main(["serve", ...])`) left uvicorn's loggers at WARNING
    and not propagating (and `orchestratex`'s not propagating): a later test reading them through `caplog` (which
    listens on the root logger) saw nothing, so it failed after such a test only. `serve` also sends Python's
    warnings, threads' uncaught exceptions and unraisable ones to logging: pytest's own hooks are put back."""
    saved = [
        (logger, logger.level, logger.propagate, logger.disabled, list(logger.handlers))
        for logger in map(logging.getLogger, _CONFIGURED)
    ]
    hooks = (threading.excepthook, sys.unraisablehook, warnings.showwarning)
    yield
    threading.excepthook, sys.unraisablehook, warnings.showwarning = hooks
    for logger, level, propagate, disabled, handlers in saved:
        logger.setLevel(level)
        logger.propagate = propagate
        logger.disabled = disabled
        logger.handlers[:] = handlers


try:
    import uvicorn.server as _uvicorn_server
except ImportError:  # (the server's extra is not installed)
    _uvicorn_server = None  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def serve_process_settings_restored() -> Iterator[None]:
    """`orchestratex serve` tunes the whole process it runs in: the interpreter's thread switch interval (0.5 ms, not
    5 ms), the cyclic collector's threshold and frozen objects, and SIGHUP added to the signals uvicorn handles.
    Served in-process (`main(["serve", ...])`), it left them so for every later test: their threads took turns ten
    times as often as when their file ran alone (a test could pass alone and fail in the suite, or the reverse), and
    a uvicorn server run later on the main thread took SIGHUP too. They are put back."""
    interval, threshold, frozen = sys.getswitchinterval(), gc.get_threshold(), gc.get_freeze_count()
    handled = _uvicorn_server.HANDLED_SIGNALS if _uvicorn_server is not None else ()
    yield
    sys.setswitchinterval(interval)
    gc.set_threshold(*threshold)
    if not frozen and gc.get_freeze_count():
        gc.unfreeze()
    if _uvicorn_server is not None:
        _uvicorn_server.HANDLED_SIGNALS = handled


@pytest.fixture(autouse=True)
def processes_reaped(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A test that failed with its subprocess still running (a server it could not stop, an assertion before its
    `finally`) left the `Popen` to the garbage collector, which warned "subprocess N is still running" (and of its
    unclosed pipes) in whichever later test it ran: with warnings as errors, an unrelated test failed too (CI's run
    failed twice for one flaky test). Each process started during the test (its fixtures' too) and still running is
    killed and reaped after it, and the pipes of each closed. (The processes of wider fixtures are started before and
    are theirs to stop.)"""
    started: list[subprocess.Popen[Any]] = []
    init = subprocess.Popen.__init__

    def tracked(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        started.append(self)

    monkeypatch.setattr(subprocess.Popen, "__init__", tracked)
    yield
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):  # (a write buffered for a process that is gone)
                    pipe.close()


def _one_thread_at_a_time(parse: Any) -> Any:
    """CPython 3.11 counts the depth of the AST it converts in one counter for the whole interpreter, so two threads
    parsing at once fail one of them with `SystemError: AST constructor recursion depth mismatch` (python/cpython
    gh-106905). A test's app in its TestClient thread parses (pydantic reads the signature of a builtin default
    factory with `inspect.signature`, which parses its text signature, as it builds a deferred model) while pytest,
    in the main thread, parses a module it imports to rewrite its asserts (schemathesis, a pytest plugin, imports
    its modules lazily): the setup of `test_server_schemathesis.py` failed about one run in four."""
    lock = threading.RLock()

    @functools.wraps(parse)
    def parse_alone(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return parse(*args, **kwargs)

    return parse_alone


ast.parse = _one_thread_at_a_time(ast.parse)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a file system of its own of 2 MiB (a tmpfs; skipped where mounting one is not allowed)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if os.geteuid() != 0 or mount is None or umount is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    made = subprocess.run([mount, "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode(errors='replace').strip()}")
    try:
        yield folder
    finally:
        subprocess.run([umount, "-l", str(folder)], check=True)


def fill_disk(folder: Path) -> Path:
    """A file taking every byte left on `folder`'s file system."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler
