"""The store a command reads or writes: refused when it lives only in this process, told apart when it is absent."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..exceptions import ConfigurationError, StoreUnavailable, UserError
from ..stores import Store, default_store_url, store_from_url
from ..stores._url import redacted_url
from ._interrupt import EXIT_CODES

__all__ = [
    "STORE_ENV",
    "StoppedWaiting",
    "chosen_store_url",
    "in_memory",
    "lasting_store_url",
    "patiently",
    "shown_url",
    "sqlite_file_absent",
    "store_option",
]


def in_memory(url: str) -> bool:
    """Whether the store at `url` lives in this process's memory only (`memory://`, `sqlite://`, …)."""
    return _in_memory(store_from_url(url))


def _in_memory(store: Store) -> bool:
    from ..stores.memory import MemoryStore
    from ..stores.sqlite import SQLiteStore

    return isinstance(store, MemoryStore) or (isinstance(store, SQLiteStore) and store.path == ":memory:")


STORE_ENV = "ORCHESTRATEX_STORE_URL"

SLOW_STORE_S = 2.0
"""After this long waiting for the store, a command that has nothing else to show says it waits."""

T = TypeVar("T")


def chosen_store_url(given: str | None) -> str:
    """`--store`'s URL, else `ORCHESTRATEX_STORE_URL`'s, else the default SQLite file's. A URL from the variable is
    checked now, and its error says where it came from: set in a shell profile or a container, the variable is
    out of sight, and "store URL 'runs.db' has no scheme" after `orchestratex runs list` named no option."""
    if given:
        return given
    url = default_store_url()
    if os.environ.get(STORE_ENV, "").strip():
        try:
            store_from_url(url)
        except UserError as exc:
            raise ConfigurationError(f"{exc.message} (the store URL of {STORE_ENV})") from None
    return url


def lasting_store_url(url: str | None, why: str, fix: str) -> str:
    """`url` (default: `ORCHESTRATEX_STORE_URL`, else the SQLite file), refused when it names a store that lives in
    this process's memory only (`memory://`, `sqlite://`, `sqlite:///:memory:`, in any letter case): the error says
    `why` that is no use and `fix`."""
    url = chosen_store_url(url)
    if _in_memory(store_from_url(url)):
        raise UserError(f"{shown_url(url)} keeps its data in this process's memory only ({why}): {fix}")
    return url


def sqlite_file_absent(url: str) -> bool:
    """Whether `url` names a SQLite file that does not exist (opening it would create it)."""
    from ..stores.sqlite import SQLiteStore

    store = store_from_url(url)
    # (`os.path.exists`: `Path.exists` raises on a name too long for the file system)
    return isinstance(store, SQLiteStore) and store.path != ":memory:" and not os.path.exists(store.path)


def shown_url(url: str) -> str:
    """`url` as the command's messages show it: with its password as `***` (`mongodb://app:***@db/ox`), since what
    the command writes ends up in terminals' scrollback, CI logs and a server's log lines."""
    return redacted_url(url)


def store_option(given: str | None) -> str:
    """` --store URL` when the command was given `--store URL`, for the commands its messages suggest (`orchestratex
    runs list`, `orchestratex serve`): without it, the suggested command reads another store, the default one. The
    URL is quoted for the shell where it must be: a path with a space (`sqlite:////data/my runs.db`), or a MongoDB
    URL's `&` (which ran the suggested command in the background, without its options), broke the command copied. A
    SQLite file's relative path is given whole (see `_whole_path`)."""
    import shlex

    return f" --store {shlex.quote(shown_url(_whole_path(given)))}" if given else ""


def _whole_path(url: str) -> str:
    """`url` with a SQLite file's relative path made absolute (its options kept), for a command typed in another folder:
    `orchestratex serve --store sqlite:///runs.db`, pasted into a new terminal (in the home folder), served another,
    empty file and never resumed the run left for it. Any other URL as it is."""
    from urllib.parse import urlsplit

    from ..stores._url import sqlite_url
    from ..stores.sqlite import SQLiteStore

    try:
        store = store_from_url(url)
    except (UserError, ConfigurationError):
        return url
    path = store.path if isinstance(store, SQLiteStore) else ":memory:"
    if path == ":memory:" or os.path.isabs(path) or path.startswith("~"):
        return url
    query = urlsplit(url).query
    return sqlite_url(os.path.abspath(path)) + (f"?{query}" if query else "")


def patiently(url: str, work: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(work)`, saying on stderr once it has waited `SLOW_STORE_S` for the store at `url`: a write waits
    up to the store's busy timeout (10 s) while another process holds a SQLite file's write lock, and `keys create`
    said nothing meanwhile, as if it hung."""

    caught: list[str] = []

    async def said() -> T:
        loop = asyncio.get_running_loop()
        notice = loop.call_later(SLOW_STORE_S, _say_waiting, url)

        def interrupted(name: str) -> None:
            notice.cancel()  # (what it waits for is said now)
            _say_interrupted(url, caught, name)

        heard = _on_stop_signals(loop, interrupted)
        try:
            return await work
        finally:
            notice.cancel()
            for sig, previous in heard.items():
                loop.remove_signal_handler(sig)
                signal.signal(sig, previous)  # (asyncio's removal left SIGTERM and SIGHUP at their default action)

    try:
        return asyncio.run(said())
    except StoreUnavailable:
        if caught:  # (the write failed, kept waiting for the lock: what ended the command was the signal)
            raise StoppedWaiting(caught[0]) from None
        raise


class StoppedWaiting(KeyboardInterrupt):
    """A stop signal (`name`) arrived while a write waited for the store, which did not make it: the command ends with
    the signal's exit code (`exit_code`, 128 + its number)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name
        self.exit_code = EXIT_CODES.get(name, 130)


_STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


def _on_stop_signals(loop: asyncio.AbstractEventLoop, handler: Callable[[str], None]) -> dict[int, Any]:
    """The signals (SIGINT, SIGTERM, SIGHUP) on which `handler(name)` now runs instead of asyncio's cancelling of the
    command's work, or the process ending at once, with their previous handlers: not one the process ignores (SIGINT in
    a script's background job, SIGHUP under `nohup`), nor where the platform has no such handler. (SIGTERM and SIGHUP
    ended the process without a word, and a key the store made at that moment was never shown.)"""
    heard: dict[int, Any] = {}
    for name in _STOP_SIGNALS:
        sig = getattr(signal, name, None)
        if sig is None or signal.getsignal(sig) is signal.SIG_IGN:
            continue
        previous = signal.getsignal(sig)
        try:
            loop.add_signal_handler(sig, handler, name)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        heard[sig] = previous
    return heard


def _say_interrupted(url: str, caught: list[str], name: str) -> None:
    """Ctrl-C (or `kill`, a closed terminal) while a write waits for the store (another process holding a SQLite
    file's write lock): the write cannot be abandoned half way, so the command ends once the store has answered, as it
    said at once. It said nothing for up to its busy timeout (10 s), then ended with the store's error and exit code 1,
    the Ctrl-C forgotten: a write that was made is still shown (a key created is printed), one that was not ends it
    with the signal's exit code (130 for Ctrl-C)."""
    if not caught:
        by = "" if name == "SIGINT" else f" by {name}"
        print(
            f"orchestratex: interrupted{by}: waiting for the store {shown_url(url)} to answer the write under way, to "
            "end without leaving it half done…",
            file=sys.stderr,
            flush=True,
        )
    caught.append(name)


def _say_waiting(url: str) -> None:
    """Say what the command waits for: a SQLite file's write lock when another connection holds it now; else only that
    the store has not answered. Any other store (a MongoDB server that does not answer) was said to be held by "another
    process … its write lock" too, and so was a SQLite file nobody held, on a loaded machine or a slow disk."""
    from ..stores.sqlite import SQLiteStore

    try:
        store = store_from_url(url)
        locked = isinstance(store, SQLiteStore) and _write_lock_held(store.path)
    except Exception:  # (the store was opened from it: no error is expected, and none may replace the wait)
        locked = False
    why = "another process may hold its write lock" if locked else "it has not answered yet"
    print(f"orchestratex: waiting for the store {shown_url(url)} ({why})…", file=sys.stderr, flush=True)


_LOCK_PROBE_S = 0.25
"""How long `_write_lock_held` waits for the write lock: longer than a write of this process holds it."""


def _write_lock_held(path: str) -> bool:
    """Whether a connection has held the write lock of the SQLite database at `path` for `_LOCK_PROBE_S`: an empty
    transaction that takes it (and lets it go at once) is refused. A file that is absent or cannot be opened is not
    created (`mode=rw`): False."""
    import sqlite3
    from pathlib import Path

    from ..stores.sqlite._errors import code_of

    if path == ":memory:":
        return False
    try:
        conn = sqlite3.connect(
            f"{Path(path).absolute().as_uri()}?mode=rw", uri=True, timeout=_LOCK_PROBE_S, isolation_level=None
        )
    except sqlite3.Error:
        return False
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        return code_of(exc) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    finally:
        conn.close()
    return False
