"""A preset whose preferred models a watched catalog file has since removed: the presets are checked when the server
starts, and the catalog may change under a running server (`ModelCatalog.from_file(path, watch=True)`)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openai import NotFoundError, OpenAI

from orchestratex import ModelCatalog, Orchestrator
from orchestratex.server import Preset, ServerSettings, create_app, issue_api_key
from orchestratex.stores import MemoryStore

from .conftest import FAST

ASK: Any = [{"role": "user", "content": "Write a haiku about tides"}]


def _catalog(names: list[str]) -> str:
    return "".join(f'[[models]]\nname = "{n}"\ncost_per_1k_tokens = 0.001\n' for n in names)


def _rewrite(path: Path, names: list[str]) -> None:
    path.write_text(_catalog(names))
    later = time.time() + 10  # (a modification time the watcher sees as new, however coarse the file system's clock)
    os.utime(path, (later, later))


def test_a_preset_routes_among_its_models_left_and_says_so_when_none_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "models.toml"
    path.write_text(_catalog(["sim:mine-a", "sim:mine-b", "sim:mine-c"]))
    store = MemoryStore()
    catalog = ModelCatalog.from_file(path, watch=True, interval=0)
    presets = {"team/mine": Preset(preferred_models=("sim:mine-a", "sim:mine-b"), max_iterations=1)}
    app = create_app(
        store, orchestrator=Orchestrator(store=store, catalog=catalog), settings=ServerSettings(presets=presets)
    )
    with TestClient(app) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        assert client.chat.completions.create(model="team/mine", messages=ASK).model in ("sim:mine-a", "sim:mine-b")
        _rewrite(path, ["sim:mine-b", "sim:mine-c"])  # sim:mine-a is gone
        for _ in range(3):
            assert client.chat.completions.create(model="team/mine", messages=ASK).model == "sim:mine-b"
        _rewrite(path, ["sim:mine-c", "sim:mine-d"])  # and sim:mine-b too
        with pytest.raises(NotFoundError) as gone:
            client.chat.completions.create(model="team/mine", messages=ASK)
        assert (gone.value.code, gone.value.param) == ("model_not_found", "model")
        assert "`team/mine` is a preset of this server" in gone.value.message
        assert "`sim:mine-a` does not exist" in gone.value.message and "known models" not in gone.value.message
