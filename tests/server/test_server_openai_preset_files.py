"""Presets read from a file (`ORCHESTRATEX_PRESETS=presets.toml`) as Windows editors save one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openai import OpenAI

from orchestratex.exceptions import ConfigurationError
from orchestratex.server import ServerSettings, create_app, issue_api_key
from orchestratex.stores import MemoryStore

PRESETS = """\
[presets."team/careful"]
description = "Six attempts towards 9.5."
max_iterations = 6
evaluation_threshold = 9.5
"""


def test_a_toml_presets_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """A presets file saved by Notepad (UTF-8 with a byte order mark) stopped the server from starting with
    "presets: presets.toml is not valid TOML: Invalid statement (at line 1, column 1)", though nothing in it was
    wrong (a catalog file with the same mark is read)."""
    path = tmp_path / "presets.toml"
    path.write_bytes(b"\xef\xbb\xbf" + PRESETS.encode())
    settings = ServerSettings.from_env({"ORCHESTRATEX_PRESETS": str(path)})
    store = MemoryStore()
    with TestClient(create_app(store, settings=settings)) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        model = client.models.retrieve("team/careful")
        assert model.model_extra is not None
        assert model.model_extra["orchestratex"]["preset"] == {"max_iterations": 6, "evaluation_threshold": 9.5}
        assert model.model_extra["description"] == "Six attempts towards 9.5."


def test_a_preset_takes_threshold_as_a_request_does(tmp_path: Path) -> None:
    """`threshold`, the short name a request may use for `evaluation_threshold` (docs: "a preset takes the settings of a
    request"), stopped the server from starting: "presets: 'team/quick': threshold: Extra inputs are not permitted"."""
    path = tmp_path / "presets.toml"
    path.write_text('[presets."team/quick"]\nmax_iterations = 1\nthreshold = 7.5\n')
    settings = ServerSettings.from_env({"ORCHESTRATEX_PRESETS": str(path)})
    store = MemoryStore()
    with TestClient(create_app(store, settings=settings)) as http:
        key = http.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        client = OpenAI(base_url="http://testserver/v1", api_key=key, http_client=http, max_retries=0)
        model = client.models.retrieve("team/quick")
        assert model.model_extra is not None
        assert model.model_extra["orchestratex"]["preset"] == {"max_iterations": 1, "evaluation_threshold": 7.5}
        reply = client.chat.completions.create(
            model="team/quick", messages=[{"role": "user", "content": "Name a prime"}]
        )
        oid = reply.model_extra["orchestratex"]["orchestration_id"]  # type: ignore[index]
        status = http.get(f"/api/orchestration/status/{oid}", headers={"Authorization": f"Bearer {key}"}).json()
        assert status["settings"]["evaluation_threshold"] == 7.5


def test_a_preset_with_both_threshold_names_is_refused_naming_them(tmp_path: Path) -> None:
    path = tmp_path / "presets.toml"
    path.write_text('[presets."team/quick"]\nthreshold = 7.5\nevaluation_threshold = 9\n')
    with pytest.raises(ConfigurationError, match="threshold and evaluation_threshold are the same setting"):
        ServerSettings.from_env({"ORCHESTRATEX_PRESETS": str(path)})


def test_a_misspelt_or_per_call_setting_in_a_presets_file_is_named_with_the_settings_there_are(tmp_path: Path) -> None:
    """`orchestratex serve` with `max_iteration = 3` in presets.toml stopped with "presets: 'team/quick': max_iteration:
    Extra inputs are not permitted", pydantic's words, naming no setting a preset takes (a request's misspelt setting is
    told them); `stream_events` or `session_id`, settings of a request, were said to be extra inputs too."""
    path = tmp_path / "presets.toml"
    path.write_text('[presets."team/quick"]\nmax_iteration = 3\n')
    env = {**os.environ, "ORCHESTRATEX_PRESETS": str(path), "ORCHESTRATEX_STORE_URL": "memory://"}
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_BASE_URL"):
        env.pop(key, None)
    serve = [sys.executable, "-m", "orchestratex", "serve", "--port", "0"]
    done = subprocess.run(serve, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Extra inputs" not in done.stderr, done.stderr
    assert "'team/quick': max_iteration: not a setting of a preset (did you mean 'max_iterations'?)" in done.stderr
    assert "a preset takes: cost_limit, description, domain, evaluation_threshold, max_iterations" in done.stderr
    with pytest.raises(ConfigurationError, match="stream_events: a setting of one request") as refused:
        ServerSettings.from_env({"ORCHESTRATEX_PRESETS": '{"team/live": {"max_iterations": 1, "stream_events": true}}'})
    assert "Extra inputs" not in str(refused.value)
