"""Presets read from a file (`ORCHESTRATEX_PRESETS=presets.toml`) as Windows editors save one."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from openai import OpenAI

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
