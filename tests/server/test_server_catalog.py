"""`orchestratex serve` with a catalog file (ORCHESTRATEX_CATALOG): the server routes among the user's models."""

from __future__ import annotations

from pathlib import Path

import httpx

from .server_process import ServerProcess, create_key

CATALOG = """
include_default = false

[[models]]
name = "sim:house-large"
cost_per_1k_tokens = 0
quality = 9

[[models]]
name = "sim:house-small"
cost_per_1k_tokens = 0
quality = 6
"""


def test_serve_uses_the_catalog_file(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(CATALOG, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    env = {"ORCHESTRATEX_CATALOG": str(path), "ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}
    with ServerProcess(url, tmp_path, env=env) as server:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            models = client.get("/api/models/").json()
            assert sorted(m["name"] for m in models) == ["sim:house-large", "sim:house-small"]
