"""`orchestratex serve` with a catalog file (ORCHESTRATEX_CATALOG): the server routes among the user's models."""

from __future__ import annotations

import time
from collections.abc import Callable
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


def test_a_model_whose_name_holds_a_slash_has_its_profile(tmp_path: Path) -> None:
    """`GET /api/models/{model_name}` answered a bare 404 for a model it lists whose name holds `/` (as OpenRouter's
    and Hugging Face's ids do), whether the `/` was sent as is or as `%2F`."""
    path = tmp_path / "models.toml"
    path.write_text(
        'include_default = false\n\n[[models]]\nname = "sim:meta-llama/llama-3.3-70b"\ncost_per_1k_tokens = 0\n\n'
        '[aliases]\n"llama/70b" = "sim:meta-llama/llama-3.3-70b"\n',
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    env = {"ORCHESTRATEX_CATALOG": str(path), "ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}
    with (
        ServerProcess(url, tmp_path, env=env) as server,
        httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client,
    ):
        assert [m["name"] for m in client.get("/api/models/").json()] == ["sim:meta-llama/llama-3.3-70b"]
        for name in ("sim:meta-llama/llama-3.3-70b", "sim:meta-llama%2Fllama-3.3-70b", "llama/70b"):
            r = client.get(f"/api/models/{name}")
            assert r.status_code == 200 and r.json()["name"] == "sim:meta-llama/llama-3.3-70b", (name, r.text)
        missing = client.get("/api/models/nope/x")
        assert missing.status_code == 404 and "unknown model 'nope/x'" in missing.json()["detail"]
        assert client.get("/api/models/").status_code == 200  # (still the list)


def _until(check: Callable[[], bool], what: str, server: ServerProcess) -> None:
    """Wait (30 s at most) for `check()`: the server checks its catalog file at most once a second, as it reads it."""
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, f"{what}:\n{server.log()}"
        time.sleep(0.2)


def test_serve_reloads_its_catalog_file_when_it_changes(tmp_path: Path) -> None:
    """`orchestratex serve --catalog FILE` read the file once: an edit (a new model, a new price) showed on neither
    `/v1/models` nor `/api/models/` until a restart, though `ModelCatalog.from_file(path, watch=True)` reloads in
    Python. A broken edit is logged and the last good models stay, until the file is fixed."""
    path = tmp_path / "models.toml"
    path.write_text(CATALOG, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'server.db'}"
    key = create_key(url, "alice")
    env = {"ORCHESTRATEX_SIM_LATENCY_SCALE": "0"}
    with (
        ServerProcess(url, tmp_path, env=env, serve_args=["--catalog", str(path)]) as server,
        httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client,
    ):

        def served() -> tuple[dict[str, float], list[str]]:
            api = {m["name"]: m["input_cost_per_1k"] for m in client.get("/api/models/").json()}
            v1 = [m["id"] for m in client.get("/v1/models").json()["data"] if not m["id"].startswith("orchestratex/")]
            return api, sorted(v1)

        assert served() == ({"sim:house-large": 0, "sim:house-small": 0}, ["sim:house-large", "sim:house-small"])
        edited = CATALOG.replace("quality = 6", 'quality = 6\n\n[[models]]\nname = "sim:house-new"\n')
        edited = edited.replace('name = "sim:house-new"', 'name = "sim:house-new"\ncost_per_1k_tokens = 0.002')
        path.write_text(edited, encoding="utf-8")
        want = (
            {"sim:house-large": 0, "sim:house-small": 0, "sim:house-new": 0.002},
            ["sim:house-large", "sim:house-new", "sim:house-small"],
        )
        _until(lambda: served() == want, "the edited catalog file was not reloaded", server)
        path.write_text(edited + "\n[[models]\nname = broken\n", encoding="utf-8")  # (not TOML)
        # (checked as the catalog is read: by these requests, as by any call)
        _until(
            lambda: served() == want and "previous models stay" in server.log(), "no warning of the bad edit", server
        )
        assert served() == want
        path.write_text(CATALOG, encoding="utf-8")  # (fixed: the new model leaves)
        _until(lambda: served()[1] == ["sim:house-large", "sim:house-small"], "the fixed file was not reloaded", server)
