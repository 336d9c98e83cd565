"""Run `orchestratex serve` as a real uvicorn process on 127.0.0.1 for the tests (and `keys create` before it)."""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

CLI = [sys.executable, "-m", "orchestratex.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "ORCHESTRATEX_STORE_URL"}
    env.pop("GOOGLE_API_KEY", None)
    env.update(extra or {})
    return env


def create_key(store_url: str, user_id: str, *, admin: bool = False) -> str:
    args = [*CLI, "keys", "create", user_id, "--store", store_url, *(["--admin"] if admin else [])]
    done = subprocess.run(args, capture_output=True, text=True, env=child_env(), timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


_SERIALS = itertools.count(1)

_LISTENING = re.compile(r"(?:serving|Uvicorn running on) http://127\.0\.0\.1:(\d+)")
"""The line saying where the server listens: `orchestratex serve`'s, or uvicorn's (with `uvicorn_args`)."""


class ServerProcess:
    """`with ServerProcess(url, log_dir) as server:` starts the server, waits until it answers, kills it after.

    The server binds a free port itself (`--port 0`) and says which: a port chosen here, closed, then bound by the
    server a second later could be taken meanwhile — by a client's connection on this machine, whose local ports come
    from the same range, or by another suite's server — and the server then failed to start, or the health check
    was answered by another."""

    def __init__(
        self,
        store_url: str,
        log_dir: Path,
        env: dict[str, str] | None = None,
        name: str = "server",
        uvicorn_args: list[str] | None = None,
        app: str = "orchestratex.server:create_app",
        port: int = 0,
        serve_args: list[str] | None = None,
    ) -> None:
        """`uvicorn_args`: run `uvicorn --factory <app>` with these arguments instead of `orchestratex serve` (the
        store from `ORCHESTRATEX_STORE_URL`). `port`: 0 (the default), a free one the server binds itself, known
        (`port`, `base_url`, `ws_url`) once it has started; started again, it serves on the same one. `serve_args`:
        more arguments of `orchestratex serve` (`--catalog FILE`)."""
        self.serve_args = serve_args or []
        self.store_url = store_url
        self.uvicorn_args = uvicorn_args
        self.app = app
        self.port = port
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.env = child_env(env)
        self.log_path = log_dir / f"{name}-{next(_SERIALS)}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> ServerProcess:
        log = self.log_path.open("ab")
        args = [*CLI, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--store", self.store_url]
        args += self.serve_args
        env = self.env
        if self.uvicorn_args is not None:
            args = [sys.executable, "-m", "uvicorn", "--factory", self.app]
            args += ["--host", "127.0.0.1", "--port", str(self.port), *self.uvicorn_args]
            env = {**env, "ORCHESTRATEX_STORE_URL": self.store_url}
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited with {self.proc.returncode}:\n{self.log()}")
            if not self.port and (found := _LISTENING.search(self.log())):
                self.port = int(found.group(1))
                self.base_url, self.ws_url = f"http://127.0.0.1:{self.port}", f"ws://127.0.0.1:{self.port}"
            try:
                if self.port and httpx.get(f"{self.base_url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"the server did not answer within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.kill(signal.SIGTERM)
        self.kill()
