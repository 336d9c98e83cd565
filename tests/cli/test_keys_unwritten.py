"""`orchestratex keys create` whose stdout cannot be written: the key it made is revoked, not left working and unread.
Real processes: a full disk (`> /dev/full`) and a reader that went away."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import CLI, cli_env, run_cli

pytest.importorskip("fastapi")  # (keys are for the server: `keys create` needs orchestratex[server])


def _keys(store_url: str) -> list[dict[str, object]]:
    listed = run_cli("keys", "list", "--json", "--store", store_url)
    assert listed.returncode == 0, listed.stderr
    keys: list[dict[str, object]] = json.loads(listed.stdout)
    return keys


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_key_that_could_not_be_written_is_revoked(store_url: str) -> None:
    """`keys create alice > /dev/full` said only `cannot write to stdout`, and left a working key of alice's that no
    one had seen in the store, listed as any other."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*CLI, "keys", "create", "alice", "--store", store_url],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
            timeout=120,
            check=False,
        )
    assert done.returncode == 1, done.stderr
    (key,) = _keys(store_url)
    assert key["revoked_at"] is not None, "a working key no one could read"
    assert done.stderr == (
        f"orchestratex: error: cannot write to stdout (No space left on device): the new key for user 'alice' "
        f"{key['_id']} was revoked, since no one could read it; run the command again with an output that can be "
        "written\n"
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
def test_a_key_whose_reader_went_away_is_revoked(store_url: str) -> None:
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before the key is written
    try:
        done = subprocess.run(
            [*CLI, "keys", "create", "bob", "--admin", "--store", store_url],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
            timeout=120,
            check=False,
        )
    finally:
        os.close(writer)
    assert done.returncode == 141, done.stderr
    (key,) = _keys(store_url)
    assert key["revoked_at"] is not None and key["admin"] is True
    assert "cannot write to stdout (Broken pipe): the new admin key for user 'bob' " in done.stderr
