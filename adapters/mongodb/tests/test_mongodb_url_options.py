"""A store URL's query options: those PyMongo refuses are a `ConfigurationError` at `open()` (PyMongo only warned
and ignored them), and the unreachable-server error names the timeout actually in force (serverSelectionTimeoutMS,
or timeoutMS)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from orchestratex.exceptions import ConfigurationError
from orchestratex_mongodb import MongoStore


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("serverSelectionTimeoutMS=abc", "serverselectiontimeoutms must be an integer or float"),
        ("serverSelectionTimeoutMS=-5", "serverselectiontimeoutms must be greater than 0"),
        ("tls=maybe", "The value of tls must be 'true' or 'false'"),
        ("retryWrite=true&replicaSet=rs0", "unknown option 'retryWrite'"),
        ("tlsCAFile=/nonexistent/ca.pem", "tlscafile file is not readable"),
    ],
)
async def test_url_options_pymongo_refuses_are_configuration_errors(query: str, says: str) -> None:
    # PyMongo's client warned and dropped them: `serverSelectionTimeoutMS=abc` made open() wait PyMongo's
    # default 30 s instead of failing fast, `tls=maybe` connected without TLS.
    store = MongoStore(f"mongodb://app:s3cret@127.0.0.1:9/db?{query}")  # making a store never connects
    with pytest.raises(ConfigurationError, match=r"invalid MongoDB URL mongodb://app:\*\*\*@127\.0\.0\.1:9/db") as err:
        await store.open()
    assert says in str(err.value) and "s3cret" not in str(err.value)


async def test_a_tls_ca_file_without_a_certificate_is_a_configuration_error(tmp_path: Path) -> None:
    # PyMongo's ssl.SSLError escaped as a traceback (from `orchestratex … --store` too).
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    store = MongoStore(f"mongodb://127.0.0.1:9/db?tls=true&tlsCAFile={ca}")
    with pytest.raises(ConfigurationError, match=r"invalid MongoDB URL .*no certificate or crl found"):
        await store.open()


def _open_in_a_subprocess(*args: str) -> str:
    """`MongoStore(*args).open()`'s error, as `Type message`, run in a subprocess: PyMongo leaves the socket of a
    refused connection for the garbage collector, which pytest would report as an unraisable exception."""
    code = (
        "import asyncio, sys\n"
        "from orchestratex_mongodb import MongoStore\n"
        "store = MongoStore(sys.argv[1], server_selection_timeout_ms=int(sys.argv[2]))\n"
        "try:\n"
        "    asyncio.run(store.open())\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, check=True
    ).stdout


def test_valid_url_options_are_accepted() -> None:
    url = (
        "mongodb://127.0.0.1:9/db?replicaSet=rs0&authSource=admin&w=majority&journal=true&readPreference=nearest"
        "&retryWrites=false&appname=x&serverSelectionTimeoutMS=100&readPreferenceTags=dc:ny&compressors=zlib"
    )
    assert _open_in_a_subprocess(url, "5000").startswith("StoreUnavailable cannot reach MongoDB")  # no server there


def test_the_unreachable_error_names_the_server_selection_timeout_in_force() -> None:
    # It said "(server selection timeout 5000 ms)", the constructor's default, while the URL's 200 ms applied.
    out = _open_in_a_subprocess("mongodb://127.0.0.1:9/db?serverSelectionTimeoutMS=200", "5000")
    assert out.startswith(
        "StoreUnavailable cannot reach MongoDB at mongodb://127.0.0.1:9/db?serverSelectionTimeoutMS=200"
        " (server selection timeout 200 ms)"
    ), out
    out = _open_in_a_subprocess("mongodb://127.0.0.1:9/db", "300")
    assert "(server selection timeout 300 ms)" in out, out


def test_the_unreachable_error_names_timeout_ms_when_it_is_the_limit_in_force() -> None:
    # It said "(server selection timeout 5000 ms)" while the URL's timeoutMS, which bounds server selection too,
    # gave up after 300 ms.
    out = _open_in_a_subprocess("mongodb://127.0.0.1:9/db?timeoutMS=300", "5000")
    assert out.startswith(
        "StoreUnavailable cannot reach MongoDB at mongodb://127.0.0.1:9/db?timeoutMS=300 (timeoutMS 300 ms)"
    ), out
    out = _open_in_a_subprocess("mongodb://127.0.0.1:9/db?timeoutMS=9000", "200")
    assert "(server selection timeout 200 ms)" in out, out


def test_the_cli_refuses_a_bad_url_option_at_once_in_one_line() -> None:
    started = time.monotonic()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestratex",
            "runs",
            "list",
            "--store",
            "mongodb://127.0.0.1:9/db?serverSelectionTimeoutMS=abc",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and time.monotonic() - started < 20, (out.returncode, out.stderr)
    assert out.stderr.strip().splitlines() == [
        "orchestratex: error: invalid MongoDB URL mongodb://127.0.0.1:9/db?serverSelectionTimeoutMS=abc:"
        " serverselectiontimeoutms must be an integer or float"
    ]


def test_a_url_with_an_injected_client_is_refused(mock_client: Any) -> None:
    # `MongoStore(url, client=...)` silently ignored the URL's servers and options (`w=1`, `replicaSet`, a timeout),
    # taking only its path as the database
    with pytest.raises(ConfigurationError) as err:
        MongoStore("mongodb://app:s3cret@db1/app?replicaSet=rs0&w=1", client=mock_client)
    assert str(err.value) == (
        "MongoStore takes a url or a client, not both: the client was made with its own servers and options, so those"
        " of 'mongodb://app:***@db1/app?replicaSet=rs0&w=1' would be ignored; make the client from that URL"
        " (AsyncMongoClient(url)), and name the database with database=..."
    )
    assert MongoStore(client=mock_client, database="app").database == "app"
