"""`open_store` / `store_from_url` with a scheme another package registers (`orchestratex.stores` entry points): a
package that cannot be loaded, or that names no store, is one line saying which, not a traceback."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from orchestratex.exceptions import ConfigurationError
from orchestratex.stores import MemoryStore, store_from_url

from ..cli.conftest import cli_env, run_cli


def _install(site: Path) -> None:
    """A distribution `acme-stores` registering three store schemes, as `pip install` would lay it out."""
    info = site / "acme_stores-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-stores\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[orchestratex.stores]\n"
        "redis = acme_redis:RedisStore\n"
        "plain = acme_plain:NotAStore\n"
        "fine = acme_fine:FineStore\n"
        "picky = acme_picky:PickyStore\n"
        "TimeSeriesDB = acme_fine:FineStore\n"
        "gone = acme_fine:NoSuchStore\n"
        "broken = acme_broken:Store\n"
        "down = acme_down:DownStore\n"
    )
    (site / "acme_down.py").write_text(  # (a driver's own error when its server is not there)
        "from orchestratex.stores import MemoryStore\n\n\nclass DownStore(MemoryStore):\n"
        "    @classmethod\n    def from_url(cls, url):\n        return cls()\n\n"
        "    async def open(self):\n        raise ConnectionRefusedError(111, 'Connection refused')\n"
    )
    (site / "acme_broken.py").write_text("raise RuntimeError('this module needs REDIS_URL set')\n")
    (site / "acme_redis.py").write_text("import redis_client_that_is_not_installed\n")
    (site / "acme_plain.py").write_text("class NotAStore:\n    pass\n")
    (site / "acme_fine.py").write_text(
        "from orchestratex.stores import MemoryStore\n\n\nclass FineStore(MemoryStore):\n"
        "    @classmethod\n    def from_url(cls, url):\n        return cls()\n"
    )
    (site / "acme_picky.py").write_text(  # (as redis-py's `from_url` reads a port: a ValueError for `host:abc`)
        "from urllib.parse import urlsplit\n\nfrom orchestratex.stores import MemoryStore\n\n\n"
        "class PickyStore(MemoryStore):\n    @classmethod\n    def from_url(cls, url):\n"
        "        if urlsplit(url).port is None:\n            raise ValueError(f'{url} names no port')\n"
        "        return cls()\n"
    )


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    _install(site)
    monkeypatch.syspath_prepend(str(site))
    return site


def test_a_registered_store_that_cannot_be_loaded_says_which_package(acme: Path) -> None:
    # a missing dependency of the package escaped as a raw ModuleNotFoundError traceback, a class without `from_url`
    # as "AttributeError: type object 'NotAStore' has no attribute 'from_url'"
    with pytest.raises(ConfigurationError) as missing:
        store_from_url("redis://localhost:6379/0")
    assert str(missing.value) == (
        "the store acme-stores's entry point 'redis' (acme_redis:RedisStore) is installed but could not be loaded"
        " (ModuleNotFoundError: No module named 'redis_client_that_is_not_installed'); reinstall that package"
    )
    with pytest.raises(ConfigurationError, match=r"entry point 'plain' \(acme_plain:NotAStore\) does not name a Store"):
        store_from_url("plain://x")
    assert isinstance(store_from_url("fine://x"), MemoryStore)


def test_the_command_line_says_it_in_one_line(acme: Path, tmp_path: Path) -> None:
    env = cli_env(PYTHONPATH=os.pathsep.join([str(acme), os.environ.get("PYTHONPATH", "")]))
    done = run_cli("runs", "list", "--store", "redis://localhost:6379/0", cwd=tmp_path, env=env)
    assert done.returncode == 2 and done.stdout == "", done
    assert done.stderr.splitlines() == [
        "orchestratex: error: the store acme-stores's entry point 'redis' (acme_redis:RedisStore) is installed but"
        " could not be loaded (ModuleNotFoundError: No module named 'redis_client_that_is_not_installed'); reinstall"
        " that package"
    ]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis://[::1/0", "invalid store URL 'redis://[::1/0': Invalid IPv6 URL"),
        ("mongodb://app:s3cret@[::1/runs", "invalid store URL 'mongodb://app:***@[::1/runs': Invalid IPv6 URL"),
        (
            "mongodb://app:s3cret@db/runs ",
            "store URL 'mongodb://app:***@db/runs ' has white space at its start or end (a line of an env file, say):"
            " remove it",
        ),
    ],
)
def test_a_url_python_cannot_split_is_one_line_without_its_password(tmp_path: Path, url: str, says: str) -> None:
    # a `[` without its `]` in the host escaped from `urlsplit` as a "ValueError: Invalid IPv6 URL" traceback
    with pytest.raises(ConfigurationError) as refused:
        store_from_url(url)
    assert str(refused.value) == says
    done = run_cli("runs", "list", "--store", url, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == "", done
    assert done.stderr.splitlines() == [f"orchestratex: error: {says}"]


async def test_a_path_given_for_a_url_says_what_to_give(tmp_path: Path) -> None:
    # `open_store(Path("runs.db"))` failed with "AttributeError: 'PosixPath' object has no attribute 'strip'"
    from orchestratex.exceptions import UserError
    from orchestratex.stores import open_store

    with pytest.raises(UserError) as refused:
        await open_store(tmp_path / "runs.db")  # type: ignore[arg-type]
    assert str(refused.value) == (
        "a store URL is a str (sqlite:///runs.db, memory://, mongodb://…), not PosixPath"
        " (for a file: SQLiteStore(path))"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_url_a_registered_store_refuses_is_one_line_naming_the_package(acme: Path, tmp_path: Path) -> None:
    # a `from_url` raising (a port that is not a number, a URL it cannot read) escaped as a ValueError traceback, and
    # the password of the URL could be in its message
    with pytest.raises(ConfigurationError) as refused:
        store_from_url("picky://app:s3cret@cache.example")
    assert str(refused.value) == (
        "the store acme-stores's entry point 'picky' (acme_picky:PickyStore) refused the store URL"
        " 'picky://app:***@cache.example': ValueError: picky://app:***@cache.example names no port"
    )
    assert isinstance(store_from_url("picky://cache.example:6379"), MemoryStore)
    env = cli_env(PYTHONPATH=os.pathsep.join([str(acme), os.environ.get("PYTHONPATH", "")]))
    done = run_cli("runs", "list", "--store", "picky://app:s3cret@cache.example:abc", cwd=tmp_path, env=env)
    assert done.returncode == 2 and done.stdout == "", done
    assert done.stderr.splitlines() == [
        "orchestratex: error: the store acme-stores's entry point 'picky' (acme_picky:PickyStore) refused the store"
        " URL 'picky://app:***@cache.example:abc': ValueError: Port could not be cast to integer value as 'abc'"
    ]


def test_a_scheme_registered_with_capitals_is_found(acme: Path) -> None:
    # a URL's scheme is read in lower case (`TimeSeriesDB://x` is `timeseriesdb`), so a package registering its
    # entry point as `TimeSeriesDB` was reported as "no store is installed for timeseriesdb:// URLs", though it was
    assert isinstance(store_from_url("TimeSeriesDB://cluster/ox"), MemoryStore)
    assert isinstance(store_from_url("timeseriesdb://cluster/ox"), MemoryStore)


def test_an_entry_point_naming_no_class_or_failing_on_import_is_one_line(acme: Path, tmp_path: Path) -> None:
    # only an ImportError was caught: an entry point naming a class its module lacks (a rename) escaped as an
    # AttributeError traceback, and a module that fails when imported as its own error's traceback
    with pytest.raises(ConfigurationError) as gone:
        store_from_url("gone://x")
    assert str(gone.value) == (
        "the store acme-stores's entry point 'gone' (acme_fine:NoSuchStore) is installed but could not be loaded"
        " (AttributeError: module 'acme_fine' has no attribute 'NoSuchStore'); reinstall that package"
    )
    env = cli_env(PYTHONPATH=os.pathsep.join([str(acme), os.environ.get("PYTHONPATH", "")]))
    done = run_cli("runs", "list", "--store", "broken://x", cwd=tmp_path, env=env)
    assert done.returncode == 2 and done.stdout == "", done
    assert done.stderr.splitlines() == [
        "orchestratex: error: the store acme-stores's entry point 'broken' (acme_broken:Store) is installed but could"
        " not be loaded (RuntimeError: this module needs REDIS_URL set)"
    ]


async def test_a_store_of_ones_own_that_cannot_open_is_unavailable_not_a_traceback(acme: Path, tmp_path: Path) -> None:
    """A third-party store whose `open()` failed with its driver's own error (`ConnectionRefusedError`) gave
    `orchestratex run` a traceback, and an application's `except OrchestrateXError` missed it; it is now a
    `StoreUnavailable` naming the store and the cause, one line from the command."""
    from orchestratex import Orchestrator
    from orchestratex.exceptions import StoreUnavailable

    message = "DownStore could not be opened: ConnectionRefusedError: [Errno 111] Connection refused"
    with pytest.raises(StoreUnavailable, match=re.escape(message)):
        await Orchestrator(store="down://db.example").run("Hello there")
    env = cli_env(PYTHONPATH=os.pathsep.join([str(acme), os.environ.get("PYTHONPATH", "")]))
    done = run_cli("run", "Hello there", "--provider", "sim", "--store", "down://db.example", cwd=tmp_path, env=env)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done
    assert message in done.stderr, done


async def test_an_empty_url_is_refused_not_taken_for_the_default_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `open_store(os.environ.get("APP_STORE", ""))` with the variable unset opened the SQLite file in the user's data
    # directory, while `store_from_url("")`, `Orchestrator(store="")` and `--store ''` refuse an empty URL
    from orchestratex.stores import open_store

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("ORCHESTRATEX_STORE_URL", raising=False)
    says = r"^the store URL is empty \(a variable left unset\?\): give one"
    with pytest.raises(ConfigurationError, match=says):
        await open_store("")
    with pytest.raises(ConfigurationError, match=says):
        store_from_url("")
    from orchestratex.server import create_app

    with pytest.raises(ConfigurationError, match=says):
        create_app(store_url="")  # (`create_app(store_url=os.environ.get("APP_STORE", ""))`)
    assert not (tmp_path / "data").exists()
    for unset in (None, "", " \n"):  # (the variable set but empty is unset, as docs/stores.md says)
        if unset is not None:
            monkeypatch.setenv("ORCHESTRATEX_STORE_URL", unset)
        default = await open_store()  # (no URL at all: the default store, as documented)
        try:
            assert Path(getattr(default, "path", "")).parent == tmp_path / "data" / "orchestratex"
        finally:
            await default.close()


@pytest.mark.parametrize("url", ["memory:", "MEMORY:", "memory:/"])
def test_a_memory_url_without_its_slashes_is_refused_as_the_other_stores_refuse_theirs(
    tmp_path: Path, url: str
) -> None:
    # `memory:` was taken for `memory://` (`sqlite:x.db` and `mongodb:host`, without their `//`, are refused): the
    # docs give exactly `memory://`, and `--store memory:` ran with a store that kept nothing, without a word
    with pytest.raises(ConfigurationError) as refused:
        store_from_url(url)
    says = f"a memory store URL is exactly 'memory://', not {url!r}"
    assert str(refused.value) == says
    done = run_cli("run", "hello", "--store", url, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == "", done
    assert done.stderr.splitlines() == [f"orchestratex: error: {says}"]
    assert isinstance(store_from_url("memory://"), MemoryStore) and isinstance(store_from_url("Memory://"), MemoryStore)


def test_sqlites_memory_name_as_a_store_url_says_what_to_write() -> None:
    # `Orchestrator(store=":memory:")` (SQLite's name for a database in memory, as `sqlite3.connect` takes it) said
    # only that the URL had no scheme, leaving the user to guess which of the three URLs it listed meant "in memory"
    from orchestratex import Orchestrator

    with pytest.raises(ConfigurationError) as refused:
        Orchestrator(store=":memory:", simulate=True)
    assert str(refused.value) == (
        "store URL ':memory:' has no scheme: use memory://, sqlite:///path.db or mongodb://… (for a store in memory:"
        " memory://, or sqlite:// for a SQLite database in memory)"
    )
    for url in ("memory://", "sqlite://"):  # each works as said
        with Orchestrator(store=url, simulate=True) as orchestrator:
            assert orchestrator.run_sync("Hello", max_iterations=1).status == "completed"
