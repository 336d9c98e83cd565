"""`runs list --user` and `keys list --user` take the id without the white space around it (copied from a padded
column, say), as `keys create` does: no user id begins or ends with white space, and ' alice' found nothing."""

from __future__ import annotations

import json

import pytest

from .conftest import PROMPT, run_cli


def test_keys_list_finds_the_key_keys_create_gave(store_url: str) -> None:
    pytest.importorskip("fastapi")
    assert run_cli("keys", "create", " alice ", "--store", store_url).returncode == 0
    listed = run_cli("keys", "list", "--user", "alice ", "--json", "--store", store_url)
    assert listed.returncode == 0, listed.stderr
    assert [k["user_id"] for k in json.loads(listed.stdout)] == ["alice"]


def test_runs_list_finds_the_users_runs(store_url: str) -> None:
    assert run_cli("run", PROMPT, "--max-iterations", "1", "--json", "--store", store_url).returncode == 0
    (doc,) = json.loads(run_cli("runs", "list", "--json", "--store", store_url).stdout)
    listed = run_cli("runs", "list", "--user", f" {doc['user_id']}\t", "--json", "--store", store_url)
    assert listed.returncode == 0, listed.stderr
    assert [d["_id"] for d in json.loads(listed.stdout)] == [doc["_id"]]
    blank = run_cli("runs", "list", "--user", "  ", "--store", store_url)
    assert blank.returncode == 2 and "argument --user: is empty" in blank.stderr
