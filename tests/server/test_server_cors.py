"""`ORCHESTRATEX_CORS_ORIGINS`: an origin no browser could ever send is refused when the server starts, not
silently kept as an entry that matches nothing."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestratex.exceptions import ConfigurationError
from orchestratex.server import ServerSettings

from .conftest import Api
from .server_process import CLI, child_env, free_port


@pytest.mark.parametrize(
    "origin", ["https://*.example.com", "*.example.com", "app.example.com", "https://app.example.com/app", "null"]
)
def test_an_origin_a_browser_never_sends_is_a_configuration_error(origin: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ServerSettings.from_env({"ORCHESTRATEX_CORS_ORIGINS": f"https://ok.example, {origin}"})
    assert str(caught.value) == (
        f"ORCHESTRATEX_CORS_ORIGINS: {origin!r} is not an origin: write scheme://host[:port] with no path or"
        " wildcard (https://app.example.com), or * alone for any origin"
    )
    with pytest.raises(ValueError, match="is not an origin"):
        ServerSettings(cors_origins=(origin,))


def test_origins_are_kept_as_browsers_send_them() -> None:
    given = "HTTPS://App.Example.com/, http://localhost:5173, http://[::1]:3000, capacitor://localhost, *"
    assert ServerSettings.from_env({"ORCHESTRATEX_CORS_ORIGINS": given}).cors_origins == (
        "https://app.example.com",
        "http://localhost:5173",
        "http://[::1]:3000",
        "capacitor://localhost",
        "*",
    )


def test_an_origin_written_in_capitals_is_allowed(make_api: Callable[..., Api]) -> None:
    api = make_api(cors_origins=("HTTPS://App.Example",))
    r = api.client.get("/api/models/", headers={"Origin": "https://app.example", **api.alice})
    assert r.headers["access-control-allow-origin"] == "https://app.example"


def test_serve_stops_on_a_wildcard_origin_with_one_line_and_exit_code_2(tmp_path: Path) -> None:
    env = child_env({"ORCHESTRATEX_CORS_ORIGINS": "https://*.example.com"})
    args = [*CLI, "serve", "--port", str(free_port()), "--store", f"sqlite:///{tmp_path / 'ox.db'}"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "orchestratex: error: ORCHESTRATEX_CORS_ORIGINS: 'https://*.example.com' is not an origin: write"
        " scheme://host[:port] with no path or wildcard (https://app.example.com), or * alone for any origin"
    ]
    assert not (tmp_path / "ox.db").exists()
