"""The lines `orchestratex serve`, `keys` and `runs` write name a `mongodb://` store without its password.

Each command runs as a process whose MongoDB is this suite's in-process stand-in (installed by a `sitecustomize`
module, as no MongoDB server runs here): what is checked is the lines the commands write, not the database."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

TESTS = Path(__file__).resolve().parent
URL = "mongodb+srv://app:Hunter2-S3cret@cluster0.example.net/ox?retryWrites=true"
SHOWN = "mongodb+srv://app:***@cluster0.example.net/ox?retryWrites=true"

SITECUSTOMIZE = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
import conftest as _stand_in
import orchestratex_mongodb._store as _store
_store.MongoStore._make_client = lambda self: _stand_in.AsyncMockClient()
"""


def _env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "ORCHESTRATEX_STORE_URL"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *filter(None, [env.get("PYTHONPATH")])])
    return env


def test_keys_create_does_not_print_the_stores_password(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "orchestratex.cli", "keys", "create", "alice", "--store", URL],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"(store {SHOWN})" in done.stderr
    assert "Hunter2" not in done.stderr


def test_keys_and_runs_do_not_print_the_stores_password(tmp_path: Path) -> None:
    """`keys list`, `keys revoke` and `runs list`/`runs show` named the store with its password in what they said
    (`no API keys in mongodb+srv://app:<password>@…`), which ends up in terminals, CI logs and bug reports."""
    for argv, said in (
        (["keys", "list"], f"no API keys in {SHOWN}"),
        (["keys", "revoke", "6b12005d537314e7ee96e6d0"], f"no API key '6b12005d537314e7ee96e6d0' in {SHOWN}"),
        (["runs", "list"], f"no orchestrations in {SHOWN}"),
        (["runs", "show", "6b12005d537314e7ee96e6d0"], f"no orchestration '6b12005d537314e7ee96e6d0' in {SHOWN}"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "orchestratex.cli", *argv, "--store", URL],
            capture_output=True,
            text=True,
            env=_env(tmp_path),
            timeout=60,
            check=False,
        )
        assert said in done.stderr, (argv, done.stderr)
        assert "Hunter2" not in done.stderr + done.stdout


def test_serve_does_not_log_the_stores_password(tmp_path: Path) -> None:
    """`serving http://… (store mongodb+srv://app:<password>@…)` put the database's password in the server's log,
    which log pipelines ship and many people read."""
    err = tmp_path / "err.log"
    args = [sys.executable, "-m", "orchestratex.cli", "serve", "--port", "0", "--store", URL, "--log-format", "json"]
    with err.open("wb") as stderr:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=stderr, env=_env(tmp_path))
    try:
        deadline = time.monotonic() + 60
        while True:  # until it answers (it says where it serves before it listens)
            found = re.search(r"serving http://127\.0\.0\.1:(\d+) ", err.read_text())
            try:
                if found and httpx.get(f"http://127.0.0.1:{found.group(1)}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, err.read_text()
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    text = err.read_text()
    assert f"(store {SHOWN}, " in text
    assert "Hunter2" not in text
