"""`orchestratex keys revoke`, run as a process: revoking a key says so; revoking it again says it already was."""

from __future__ import annotations

import json

import pytest

from .conftest import run_cli

pytest.importorskip("fastapi")  # (keys are for the server: `keys create` needs orchestratex[server])


def test_revoking_a_revoked_key_says_it_already_was(store_url: str) -> None:
    assert run_cli("keys", "create", "alice", "--store", store_url).returncode == 0
    (key,) = json.loads(run_cli("keys", "list", "--json", "--store", store_url).stdout)
    first = run_cli("keys", "revoke", key["_id"], "--store", store_url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"orchestratex: revoked key {key['_id']} of user 'alice'; servers on ")
    (revoked,) = json.loads(run_cli("keys", "list", "--json", "--store", store_url).stdout)

    again = run_cli("keys", "revoke", key["_id"], "--store", store_url)
    assert again.returncode == 0, again.stderr
    when = revoked["revoked_at"][:16].replace("T", " ")
    assert again.stdout == (
        f"orchestratex: key {key['_id']} of user 'alice' was already revoked ({when} UTC); nothing changed\n"
    )
    (still,) = json.loads(run_cli("keys", "list", "--json", "--store", store_url).stdout)
    assert still["revoked_at"] == revoked["revoked_at"]  # the first revocation is the one kept


def test_listing_the_keys_of_a_user_who_has_none_says_whose(store_url: str) -> None:
    assert run_cli("keys", "create", "alice", "--store", store_url).returncode == 0
    none = run_cli("keys", "list", "--user", "bob", "--store", store_url)
    assert none.returncode == 0, none.stderr
    assert none.stderr == f"orchestratex: no API keys of user 'bob' in {store_url}\n"  # (alice has one)
