"""The store a command reads or writes: refused when it lives only in this process, told apart when it is absent."""

from __future__ import annotations

import os
import re

from ..exceptions import UserError
from ..stores import Store, default_store_url, store_from_url

__all__ = ["in_memory", "lasting_store_url", "shown_url", "sqlite_file_absent"]

_PASSWORD = re.compile(r"(?P<head>^[a-z][a-z0-9+.-]*://[^:@/]*:)[^@/]*@", re.IGNORECASE)


def shown_url(url: str) -> str:
    """`url` as a line may show it: a password in it (`mongodb+srv://app:<password>@cluster…`) as `***`."""
    return _PASSWORD.sub(r"\g<head>***@", url)


def in_memory(url: str) -> bool:
    """Whether the store at `url` lives in this process's memory only (`memory://`, `sqlite://`, …)."""
    return _in_memory(store_from_url(url))


def _in_memory(store: Store) -> bool:
    from ..stores.memory import MemoryStore
    from ..stores.sqlite import SQLiteStore

    return isinstance(store, MemoryStore) or (isinstance(store, SQLiteStore) and store.path == ":memory:")


def lasting_store_url(url: str | None, why: str, fix: str) -> str:
    """`url` (default: `ORCHESTRATEX_STORE_URL`, else the SQLite file), refused when it names a store that lives in
    this process's memory only (`memory://`, `sqlite://`, `sqlite:///:memory:`, in any letter case): the error says
    `why` that is no use and `fix`."""
    url = url or default_store_url()
    if _in_memory(store_from_url(url)):
        raise UserError(f"{url} keeps its data in this process's memory only ({why}): {fix}")
    return url


def sqlite_file_absent(url: str) -> bool:
    """Whether `url` names a SQLite file that does not exist (opening it would create it)."""
    from ..stores.sqlite import SQLiteStore

    store = store_from_url(url)
    # (`os.path.exists`: `Path.exists` raises on a name too long for the file system)
    return isinstance(store, SQLiteStore) and store.path != ":memory:" and not os.path.exists(store.path)
