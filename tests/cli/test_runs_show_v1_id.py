"""`orchestratex runs show` of a run made through the OpenAI-compatible API, by the `id` its answer carries
(`chatcmpl-<orchestration id>`, as docs/openai-compatible.md says): it was "no orchestration 'chatcmpl-6b15…'". Real
processes: `orchestratex serve`, the `openai` SDK over a socket, then the command."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import pytest

from .conftest import CLI, cli_env, run_cli

pytest.importorskip("fastapi")
openai = pytest.importorskip("openai")


def test_runs_show_takes_the_id_of_a_v1_answer(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    key = run_cli("keys", "create", "alice", "--store", url).stdout.strip()
    args = [*CLI, "serve", "--port", "0", "--store", url]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=cli_env())
    try:
        assert proc.stderr is not None
        found = re.match(r"orchestratex: serving (http://127\.0\.0\.1:\d+) \(store ", proc.stderr.readline())
        assert found is not None
        with openai.OpenAI(base_url=f"{found.group(1)}/v1", api_key=key, max_retries=5) as client:
            reply = client.chat.completions.create(
                model="orchestratex/auto", messages=[{"role": "user", "content": "What is 6*7?"}]
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        if proc.stderr is not None:
            proc.stderr.close()
    assert reply.id.startswith("chatcmpl-")
    oid = reply.id.removeprefix("chatcmpl-")
    shown = run_cli("runs", "show", reply.id, "--store", url)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"orchestration {oid}: completed")
    assert shown.stdout.rstrip("\n").endswith(reply.choices[0].message.content or "")
    as_json = run_cli("runs", "show", reply.id, "--json", "--store", url)
    assert as_json.returncode == 0 and f'"_id": "{oid}"' in as_json.stdout, as_json.stderr
