"""`orchestratex keys create` and `orchestratex serve` argument handling."""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import logging
import sys
from pathlib import Path

import pytest
import uvicorn

from orchestratex.cli import main
from orchestratex.records import ApiKey
from orchestratex.server import hash_key
from orchestratex.stores import SQLiteStore


async def stored(path: Path, key: str) -> ApiKey | None:
    async with SQLiteStore(path) as store:
        return await store.get_api_key(hash_key(key))


def test_keys_create_prints_a_key_once_and_stores_its_hash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "keys.db"
    assert main(["keys", "create", "alice", "--store", f"sqlite:///{path}", "--label", "laptop"]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert key.startswith("ox_") and len(key) > 40
    assert "shown only once" in err
    record = asyncio.run(stored(path, key))
    assert record is not None
    assert (record.user_id, record.admin, record.label) == ("alice", False, "laptop")
    assert record.key_hash != key and key not in path.read_bytes().decode(errors="replace")

    assert main(["keys", "create", "root", "--admin", "--store", f"sqlite:///{path}"]) == 0
    admin = asyncio.run(stored(path, capsys.readouterr().out.strip()))
    assert admin is not None and admin.admin


def test_keys_create_reads_the_store_url_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "env.db"
    monkeypatch.setenv("ORCHESTRATEX_STORE_URL", f"sqlite:///{path}")
    assert main(["keys", "create", "bob"]) == 0
    record = asyncio.run(stored(path, capsys.readouterr().out.strip()))
    assert record is not None and record.user_id == "bob"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["keys", "create", "alice", "--store", "memory://"], "memory:// store is lost"),
        (["keys", "create", "  ", "--store", "sqlite:///{tmp}/k.db"], "the user id is empty"),
        (["keys", "create", "a/b", "--store", "sqlite:///{tmp}/k.db"], "a user id must not hold '/'"),
        (["keys", "create", "a\tb", "--store", "sqlite:///{tmp}/k.db"], "must not hold the control character '\\t'"),
        (["serve", "--port", "70000", "--store", "sqlite:///{tmp}/s.db"], "--port must be between 0 and 65535"),
        (["serve", "--store", "nowhere"], "has no scheme"),
    ],
)
def test_bad_arguments_end_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    assert message in capsys.readouterr().err


def test_serve_sets_the_collectors_threshold_from_its_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # (capfd, not capsys: `serve` hands its standard error's descriptor to `faulthandler`)
    seen: list[tuple[int, int, int]] = []

    def run(server: uvicorn.Server, sockets: object = None) -> None:
        seen.append(gc.get_threshold())
        server.started = True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    before = gc.get_threshold()
    try:
        assert main(["serve", "--port", "0", "--store", f"sqlite:///{tmp_path}/s.db"]) == 0
        monkeypatch.setenv("ORCHESTRATEX_GC_THRESHOLD", "2500")
        assert main(["serve", "--port", "0", "--store", f"sqlite:///{tmp_path}/s.db"]) == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
        faulthandler.enable(sys.__stderr__ or sys.stderr)  # (`serve` pointed it at the captured descriptor)
    assert seen == [(5000, *before[1:]), (2500, *before[1:])]

    monkeypatch.setenv("ORCHESTRATEX_GC_THRESHOLD", "50")
    assert main(["serve", "--port", "0", "--store", f"sqlite:///{tmp_path}/s.db"]) == 2
    assert "ORCHESTRATEX_GC_THRESHOLD: Input should be greater than or equal to 100" in capfd.readouterr().err
    assert len(seen) == 2 and gc.get_threshold() == before


def test_serve_vv_shows_the_librarys_debug_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """`-vv` is DEBUG for every command (its help says so, `serve -h` too), but `serve` configured the library's loggers
    at INFO whatever it was given: its DEBUG lines (a checkpoint of the database skipped, an observer failing again)
    never showed."""
    seen: list[int] = []

    def run(server: uvicorn.Server, sockets: object = None) -> None:
        seen.append(logging.getLogger("orchestratex").getEffectiveLevel())
        logging.getLogger("orchestratex.server").debug("a debug line of the library")
        server.started = True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    before = gc.get_threshold()
    try:
        assert main(["serve", "--port", "0", "--store", f"sqlite:///{tmp_path}/s.db"]) == 0
        assert main(["serve", "-vv", "--port", "0", "--store", f"sqlite:///{tmp_path}/s.db"]) == 0
        assert main(["-v", "serve", "-v", "--port", "0", "--store", f"sqlite:///{tmp_path}/s.db"]) == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
        faulthandler.enable(sys.__stderr__ or sys.stderr)  # (`serve` pointed it at the captured descriptor)
    assert seen == [logging.INFO, logging.DEBUG, logging.DEBUG]
    assert capfd.readouterr().err.count("a debug line of the library") == 2


def test_serve_interrupted_as_it_starts_says_so_in_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """With `--log-format json` every line of `serve` is JSON, but a Ctrl-C while it opened its store (a migration of
    minutes, a database server that does not answer) printed the text line "orchestratex: interrupted"."""
    import json

    from orchestratex.cli import _serve

    async def interrupted(url: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_serve, "_check_store", interrupted)
    assert main(["serve", "--port", "0", "--log-format", "json", "--store", f"sqlite:///{tmp_path}/s.db"]) == 130
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines()]
    assert [(line["level"], line["message"]) for line in lines] == [
        ("WARNING", "interrupted: the server did not start")
    ]
