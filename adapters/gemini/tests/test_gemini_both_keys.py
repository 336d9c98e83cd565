"""Both `GOOGLE_API_KEY` and `GEMINI_API_KEY` set (Google's docs name both).

google-genai logs "Both GOOGLE_API_KEY and GEMINI_API_KEY are set. Using GOOGLE_API_KEY." for every client it builds,
though the adapter passes the key it chose itself: with no logging set up, Python's last-resort handler printed it at
the top of `orchestratex run`'s output (again for each event loop), and it said "Using GOOGLE_API_KEY" of a key passed
as `api_key=`. The adapter's clients no longer log it; a client of one's own still does.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from google import genai

from orchestratex_gemini import GeminiProvider

SAID = "Both GOOGLE_API_KEY and GEMINI_API_KEY are set"


@pytest.fixture
def both_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-google")
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-gemini")


@pytest.mark.usefixtures("both_keys")
def test_the_adapter_s_clients_do_not_log_it(caplog: pytest.LogCaptureFixture) -> None:
    GeminiProvider()
    GeminiProvider(api_key="AIza-given")
    GeminiProvider.from_env()
    assert not [r for r in caplog.records if r.getMessage().startswith(SAID)]
    genai.Client(vertexai=False)  # (one's own: as google-genai has it)
    assert [r for r in caplog.records if r.getMessage().startswith(SAID)]


def test_run_prints_no_such_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env = {k: v for k, v in env.items() if not k.startswith("ORCHESTRATEX_")}
    env.update(GOOGLE_API_KEY="AIza-google", GEMINI_API_KEY="AIza-gemini")
    command = [sys.executable, "-c", "from orchestratex_gemini import GeminiProvider; GeminiProvider.from_env()"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert SAID not in done.stderr, done.stderr
