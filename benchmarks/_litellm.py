"""LiteLLM's Router as the anchor of the overhead benchmarks, run in its own virtualenv as a subprocess.

The first use creates `.bench-venv/litellm` at the repository root (or `$ORCHESTRATEX_BENCH_VENV`)
and installs the pinned LiteLLM there with pip; later runs reuse it. The driver subprocess keeps one
`Router` and one event loop, and answers each request `<n>` on stdin with the seconds `n` sequential
`Router.acompletion(mock_response=...)` calls took, so the caller can interleave its rounds with
LiteLLM's. Where LiteLLM cannot be installed, `LiteLLMDriver.start` returns the reason instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LITELLM_VERSION = "1.110.2"
ROOT = Path(__file__).resolve().parent.parent

DRIVER = r"""
import asyncio, os, sys, time
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
import litellm
from litellm import Router

litellm.telemetry = False
litellm.suppress_debug_info = True
params = {"model": "openai/gpt-4o-mini", "api_key": "sk-bench"}
router = Router(model_list=[{"model_name": "bench", "litellm_params": params}])
loop = asyncio.new_event_loop()

async def calls(n):
    start = time.perf_counter()
    for i in range(n):
        response = await router.acompletion(
            model="bench", messages=[{"role": "user", "content": f"Write function number {i}"}], mock_response="done"
        )
        assert response.choices[0].message.content == "done"
    return time.perf_counter() - start

print("ready", flush=True)
for line in sys.stdin:
    print(repr(loop.run_until_complete(calls(int(line)))), flush=True)
"""


def venv_dir() -> Path:
    return Path(os.environ.get("ORCHESTRATEX_BENCH_VENV", ROOT / ".bench-venv")) / "litellm"


def ensure_python() -> Path | str:
    """The LiteLLM virtualenv's interpreter, created on first use; or why it could not be."""
    venv = venv_dir()
    python = venv / "bin" / "python"
    marker = venv / f".litellm-{LITELLM_VERSION}"
    if marker.exists():
        return python
    print(f"creating {venv} with litellm=={LITELLM_VERSION} (first use only) ...", file=sys.stderr, flush=True)
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"litellm=={LITELLM_VERSION}"],
            check=True,
            capture_output=True,
            timeout=900,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        return f"{exc}: {detail.decode(errors='replace').strip()[-300:]}"
    marker.touch()
    return python


class LiteLLMDriver:
    """A running LiteLLM driver subprocess."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    @classmethod
    def start(cls) -> LiteLLMDriver | str:
        python = ensure_python()
        if isinstance(python, str):
            return f"LiteLLM could not be installed ({python})"
        proc = subprocess.Popen(
            [str(python), "-c", DRIVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            proc.kill()
            return "the LiteLLM driver did not start"
        return cls(proc)

    def seconds_for(self, n: int) -> float:
        """Seconds `n` sequential `Router.acompletion` calls take in the driver."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
