"""`create_app`'s arguments: the store is given once, as an object (`store`, or an `orchestrator`'s) or as a URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestratex import Orchestrator
from orchestratex.exceptions import ConfigurationError
from orchestratex.server import create_app, issue_api_key
from orchestratex.stores import MemoryStore


def test_a_store_url_beside_a_store_or_an_orchestrator_is_refused(tmp_path: Path) -> None:
    """`create_app(MemoryStore(), store_url="sqlite:///runs.db")` served from memory, without a word: every session,
    key and run was gone with the process, while the caller believed them in runs.db."""
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    with pytest.raises(ConfigurationError, match=r"give either store_url or a store, not both: store_url 'sqlite:///"):
        create_app(MemoryStore(), store_url=url)
    with pytest.raises(ConfigurationError, match="give either store_url or an orchestrator, not both"):
        create_app(orchestrator=Orchestrator(store=MemoryStore()), store_url=url)
    assert not (tmp_path / "runs.db").exists()


def test_a_store_url_alone_is_the_servers_store(tmp_path: Path) -> None:
    with TestClient(create_app(store_url=f"sqlite:///{tmp_path / 'runs.db'}")) as client:
        assert client.get("/health/ready").status_code == 200
    assert (tmp_path / "runs.db").exists()
    store = MemoryStore()
    with TestClient(create_app(store)) as client:
        key = client.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        r = client.post("/api/sessions/", json={}, headers={"X-API-Key": key})
        assert r.status_code == 201
