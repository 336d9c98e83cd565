"""Store URLs: `memory://`, `sqlite:///path.db`, and schemes registered by other packages."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from .._shown import shown_url
from ..exceptions import ConfigurationError, OrchestrateXError, StoreError, UserError
from ._base import Store
from ._opening import open_checked

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["default_store_url", "open_store", "redacted_url", "store_from_url"]

_SCHEME_ALIASES = {"mongodb+srv": "mongodb"}
redacted_url = shown_url
"""What messages and log lines show of a store URL: its password as `***` (`mongodb://app:***@db.example/ox`)."""


def default_store_url() -> str:
    """`ORCHESTRATEX_STORE_URL` (white space around it dropped, as for the server's other `ORCHESTRATEX_*` settings),
    else a SQLite file in the user's data directory."""
    raw = os.environ.get("ORCHESTRATEX_STORE_URL", "")
    url = raw.strip()
    if url != raw and url:
        _check_not_kept_as_written(raw, url)
    return url or _in_the_data_directory()


def _check_not_kept_as_written(raw: str, url: str) -> None:
    """`ConfigurationError` when `raw`, `ORCHESTRATEX_STORE_URL` with white space after it, is a SQLite URL whose
    file, named with that white space as earlier versions took it (before the variable's white space was dropped),
    exists: it holds the store's runs and API keys, and `url` names another file (a new, empty store, opened without a
    word: every run gone from sight, every client's key refused)."""
    parts = urlsplit(raw)  # (as earlier versions read it: a space after the path is kept in the file's name)
    if parts.scheme.lower() != "sqlite" or parts.netloc or parts.query or parts.fragment:
        return
    kept = unquote(parts.path)[1:]
    if not kept or kept == kept.rstrip() or kept == ":memory:":
        return
    try:
        if not os.path.isfile(kept):
            return
        kept, named = os.path.abspath(kept), os.path.abspath(unquote(urlsplit(url).path)[1:])
    except (OSError, ValueError):
        return
    raise ConfigurationError(
        f"ORCHESTRATEX_STORE_URL {raw!r} has white space after it, which this version drops (it names {named!r});"
        f" an earlier version, which took it as it is, keeps this store's runs and API keys in {kept!r}: rename that"
        " file (with its -wal file, while no process uses it) to the name without the white space to go on using it"
    )


def _in_the_data_directory() -> str:
    from platformdirs import user_data_dir

    try:
        folder = user_data_dir("orchestratex")
    except RuntimeError as exc:  # (no HOME, and a user id the system does not know: a container's `--user 4242`)
        raise ConfigurationError(
            f"the default store lives in the user's data directory, and there is none here ({exc}): set "
            "ORCHESTRATEX_STORE_URL (sqlite:///path/to/runs.db) or, on the command line, give --store"
        ) from None
    return sqlite_url(Path(folder) / "orchestratex.db")


def sqlite_url(path: Path | str) -> str:
    """The `sqlite:///` URL of a file's path, with the characters a URL would read otherwise escaped (`%`, `?`, `#`:
    a data directory `/home/ada#2/…` made the default URL one SQLite could not open, `…%41…` another folder)."""
    escaped = str(path).replace("%", "%25").replace("?", "%3F").replace("#", "%23")
    return f"sqlite:///{escaped}"


def _check_text(url: str) -> None:
    """Refuse what cannot be a store URL as it is: not a str, empty, white space around it, a comment after it."""
    if not isinstance(url, str):  # (a `Path`: AttributeError: 'PosixPath' object has no attribute 'strip')
        raise UserError(
            f"a store URL is a str (sqlite:///runs.db, memory://, mongodb://…), not {type(url).__name__}"
            f"{' (for a file: SQLiteStore(path))' if isinstance(url, os.PathLike) else ''}"
        )
    if not url:  # (`open_store(os.environ.get("APP_STORE", ""))` with the variable unset)
        raise ConfigurationError(
            "the store URL is empty (a variable left unset?): give one (memory://, sqlite:///path.db, mongodb://…), or"
            " none at all (open_store() opens ORCHESTRATEX_STORE_URL's store, else the SQLite file in the user's data"
            " directory)"
        )
    if url != url.strip():  # (`sqlite:///runs.db ` named another file, `runs.db `; ` sqlite://…` seemed malformed)
        raise ConfigurationError(
            f"store URL {_shown(url)} has white space at its start or end (a line of an env file, say): remove it"
        )
    comment = re.search(r"\s+#", url)
    if comment is not None:  # (`…runs.db  # prod`: escaping the `#` as the fragment's error said made it a file's name)
        raise ConfigurationError(
            f"store URL {_shown(url)} has a comment after it ({url[comment.end() - 1 :]!r}), which env files keep in"
            f" the value (docker's --env-file and systemd's EnvironmentFile= take no comment after a value): remove"
            f" it, leaving {_shown(url[: comment.start()])}"
        )


def store_from_url(url: str) -> Store:
    """The (unopened) store for `url`."""
    _check_text(url)
    try:
        scheme = urlsplit(url).scheme
    except ValueError as exc:  # ("Invalid IPv6 URL": a `[` without its `]` in the host)
        raise ConfigurationError(f"invalid store URL {_shown(url)}: {exc}") from None
    # `C:\runs.db`, a Windows path: urlsplit reads its drive as a scheme (it said "no store is installed for c://")
    if len(scheme) == 1 and url[1:3] in (":\\", ":/") and url[1:4] != "://":
        raise ConfigurationError(
            f"store URL {url!r} is a file's path, not a URL: give it as a SQLite URL, {sqlite_url(url)}"
        )
    if len(url) > 1 and url[0] == url[-1] and url[0] in "'\"":  # (docker's --env-file and systemd keep the quotes)
        raise ConfigurationError(f"store URL {_shown(url)} is in quotes: remove them, they are not part of the URL")
    if not scheme:
        looks_like_a_file = "://" not in url and any(c in url for c in "./\\")
        path = f" (for the SQLite file {url}: {sqlite_url(url)})" if looks_like_a_file else ""
        if url.casefold() == ":memory:":  # (SQLite's own name for a database in memory, as `sqlite3.connect` takes)
            path = " (for a store in memory: memory://, or sqlite:// for a SQLite database in memory)"
        raise ConfigurationError(
            f"store URL {_shown(url)} has no scheme: use memory://, sqlite:///path.db or mongodb://…{path}"
        )
    name = _SCHEME_ALIASES.get(scheme, scheme)
    if name == "memory":
        from .memory import MemoryStore

        return MemoryStore.from_url(url)
    if name == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore.from_url(url)
    from importlib.metadata import entry_points  # imported here: scanning distributions is slow

    from ..providers._registry import install_hint

    hint = (install_hint("mongodb") or "") if name == "mongodb" else ""
    for ep in entry_points(group="orchestratex.stores"):
        if ep.name.lower() == name:  # (a URL's scheme is read in lower case: one registered as `MyDB` never matched)
            return _registered(ep, url, hint)
    raise ConfigurationError(f"no store is installed for {scheme}:// URLs{f' ({hint})' if hint else ''}{_meant(url)}")


def _meant(url: str) -> str:
    """What to write instead of a SQLite database's URL in another tool's form (SQLAlchemy's `sqlite+aiosqlite:///`,
    `sqlite3:///`, a `file:///` URL), which said only "no store is installed", as if a package were missing."""
    scheme, rest = url.split(":", 1)
    if scheme.lower() == "sqlite3" or scheme.lower().startswith("sqlite+"):
        return f": for a SQLite database, write sqlite:{rest} (without the driver: OrchestrateX uses Python's sqlite3)"
    if scheme.lower() == "file":
        from urllib.parse import unquote

        return f": for a SQLite database in that file, write {sqlite_url(unquote(urlsplit(url).path))}"
    return ""


def _shown(url: str) -> str:
    """`url` for an error message, quoted, without a password (`'scheme://user:***@host'`)."""
    return repr(redacted_url(url))


def _registered(ep: EntryPoint, url: str, hint: str) -> Store:
    """The store a package registers for `url`'s scheme: a `ConfigurationError` naming the package when it cannot be
    loaded (a dependency of its missing) or is not a `Store` with `from_url`, rather than a traceback."""
    package = f"{ep.dist.name}'s " if ep.dist is not None else ""
    where = f"the store {package}entry point {ep.name!r} ({ep.value})"
    try:
        store_cls: Any = ep.load()
    except Exception as exc:  # installed, but what it needs is missing or broken (or it names no such class, or
        # its module fails when imported: an AttributeError, a SyntaxError, its own error, once a traceback)
        fix = f"; reinstall it: {hint}" if hint else "; reinstall that package"
        fix = fix if isinstance(exc, ImportError | AttributeError) else ""  # (its own error says what to do)
        raise ConfigurationError(
            f"{where} is installed but could not be loaded ({type(exc).__name__}: {exc}){fix}"
        ) from exc
    from_url = getattr(store_cls, "from_url", None)
    if not (isinstance(store_cls, type) and issubclass(store_cls, Store) and callable(from_url)):
        raise ConfigurationError(f"{where} does not name a Store subclass with a from_url(url) classmethod")
    try:
        store: Store = from_url(url)
    except OrchestrateXError:
        raise
    except Exception as exc:  # (`urlsplit(url).port` of `host:abc`, say: a ValueError traceback from the command line)
        said = str(exc).replace(url, redacted_url(url)) if url != redacted_url(url) else str(exc)
        raise ConfigurationError(f"{where} refused the store URL {_shown(url)}: {type(exc).__name__}: {said}") from exc
    return store


async def open_store(url: str | None = None) -> Store:
    """The store for `url` (None: `default_store_url()`), opened. An empty URL is refused, as `store_from_url` and
    `--store ''` refuse it: it is most often a variable left unset, and it opened the default store in its place."""
    url = default_store_url() if url is None else url
    store = store_from_url(url)
    try:
        await open_checked(store)
    except StoreError as exc:
        if url != _in_the_data_directory():
            raise
        raise type(exc)(  # (an unwritable home, a read-only data directory: say how to use another store)
            f"{exc}; it is the default store, in the user's data directory: choose another with "
            "ORCHESTRATEX_STORE_URL or, on the command line, --store"
        ) from exc
    return store
