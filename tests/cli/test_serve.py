"""`orchestratex serve` says where it serves only once it can: a port in use is one line, `--port 0` its real port."""

from __future__ import annotations

import errno
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import CLI, cli_env, run_cli, stored


def test_a_port_in_use_is_one_line_and_exit_1_not_a_serving_message(tmp_path: Path) -> None:
    """It printed "serving http://127.0.0.1:PORT", the API docs and console URLs, uvicorn's start-up, then
    "[Errno 98] … address already in use" and exited with 3."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("serve", "--port", str(port), "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"orchestratex: error: cannot listen on 127.0.0.1:{port}: Address already in use: "
        "give another --port (or a --host of this machine)"
    ]
    bad_host = run_cli("serve", "--host", "999.1.1.1", "--port", "0", "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert bad_host.returncode == 1 and "serving" not in bad_host.stderr
    assert bad_host.stderr.startswith("orchestratex: error: cannot listen on 999.1.1.1:0: ")


def test_port_0_prints_the_port_the_server_listens_on(tmp_path: Path) -> None:
    """It printed "serving http://127.0.0.1:0"."""
    args = [*CLI, "serve", "--port", "0", "--store", f"sqlite:///{tmp_path / 's.db'}"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=cli_env())
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        found = re.match(r"orchestratex: serving http://127\.0\.0\.1:(\d+) \(store ", first)
        assert found is not None, first
        port = int(found.group(1))
        assert port != 0
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()


def test_the_port_printed_is_held_from_then_on_so_no_other_process_can_take_it(tmp_path: Path) -> None:
    """`serve --port 0` bound a free port to learn it, closed it, printed "serving http://127.0.0.1:P" and bound P again
    only once the app had started: in between, another process could take P, and the server then failed to listen
    (exit code 3) on the port it had printed, or another program answered there. The port is now bound once."""
    args = [*CLI, "serve", "--port", "0", "--store", f"sqlite:///{tmp_path / 's.db'}"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=cli_env())
    try:
        assert proc.stderr is not None
        found = re.match(r"orchestratex: serving http://127\.0\.0\.1:(\d+) \(store ", proc.stderr.readline())
        assert found is not None
        port = int(found.group(1))
        with socket.socket() as other, pytest.raises(OSError) as refused:  # (at once: the app is still starting)
            other.bind(("127.0.0.1", port))
        assert refused.value.errno == errno.EADDRINUSE
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        assert f"Uvicorn running on http://127.0.0.1:{port} " in _lines_until(proc, "Uvicorn running on")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()


def _lines_until(proc: subprocess.Popen[str], text: str) -> str:
    assert proc.stderr is not None
    seen = ""
    while text not in seen:
        line = proc.stderr.readline()
        assert line, seen
        seen += line
    return seen


def _serving(args: list[str], env: dict[str, str], **kwargs: Any) -> tuple[subprocess.Popen[str], int]:
    """A `serve` process on a free port, once it answers `/health`."""
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, **kwargs)
    assert proc.stderr is not None
    found = re.match(r"orchestratex: serving http://127\.0\.0\.1:(\d+) ", proc.stderr.readline())
    assert found is not None
    port = int(found.group(1))
    deadline = time.monotonic() + 60
    while True:
        try:
            assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
            return proc, port
        except httpx.TransportError:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_a_closed_terminal_stops_the_server_gracefully_handing_back_its_runs(tmp_path: Path) -> None:
    """SIGHUP killed `serve` at once: a running orchestration kept its lease until it expired (nobody could resume
    it meanwhile), without uvicorn's shutdown. Now it is handed back at once, as on Ctrl-C or SIGTERM."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    key = run_cli("keys", "create", "alice", "--store", url).stdout.strip()
    env = cli_env(ORCHESTRATEX_SIM_LATENCY_SCALE="20", ORCHESTRATEX_SHUTDOWN_GRACE_S="0")
    proc, port = _serving([*CLI, "serve", "--port", "0", "--store", url], env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}) as api:
            session = api.post("/api/sessions/", json={"user_id": "alice"}).json()["_id"]
            thread = api.post("/api/threads/", json={"session_id": session, "original_prompt": "Explain DNS"}).json()
            body = {"thread_id": thread["_id"], "prompt": "Explain DNS"}
            started = api.post("/api/orchestration/start", json=body)
            assert started.status_code in (200, 201, 202), started.text
            deadline = time.monotonic() + 60
            while api.get(f"/api/orchestration/status/{started.json()['_id']}").json()["status"] != "running":
                assert time.monotonic() < deadline and proc.poll() is None  # (a second was not always enough)
                time.sleep(0.1)
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=60) == -signal.SIGHUP
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        err = proc.stderr.read()
        proc.stderr.close()
    assert "Application shutdown complete" in err and "suspended" in err, err
    docs, resumable = stored(url)
    assert [d.status for d in docs] == ["running"] and resumable == [docs[0].id]  # (its lease given up)


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_under_nohup_a_hangup_leaves_the_server_running(tmp_path: Path) -> None:
    def ignore_hangup() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    args = [*CLI, "serve", "--port", "0", "--store", f"sqlite:///{tmp_path / 's.db'}"]
    proc, port = _serving(args, cli_env(), preexec_fn=ignore_hangup)
    try:
        proc.send_signal(signal.SIGHUP)
        time.sleep(1)
        assert proc.poll() is None and httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()


def test_a_store_in_the_servers_memory_is_served_with_a_note_that_no_key_can_reach_it() -> None:
    """`serve --store memory://` answered 401 to everything, with no word why: `keys create` refuses such a store."""
    proc, _ = _serving([*CLI, "serve", "--port", "0", "--store", "memory://"], cli_env())
    try:
        assert proc.stderr is not None
        lines = [proc.stderr.readline() for _ in range(3)]  # (after "serving …": docs, console, the note)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
    assert lines[2].startswith("orchestratex: note: the store memory:// lives in this process only"), lines
    assert "`orchestratex keys create` cannot give it one" in lines[2]


@pytest.mark.parametrize("kept", ["memory", "file"])
def test_a_key_refused_by_a_server_of_a_store_in_its_memory_is_not_sent_to_keys_create(
    tmp_path: Path, kept: str
) -> None:
    """Each 401 of `serve --store memory://` said "unknown API key (create one with `orchestratex keys create
    USER_ID`)", a command that cannot give that store a key (it refuses it, and another process could not reach it):
    the user created a key in the default store and was refused again. The 401 now says what to do instead; a server
    of a SQLite file still sends the user to `keys create`."""
    url = "memory://" if kept == "memory" else f"sqlite:///{tmp_path / 's.db'}"
    proc, port = _serving([*CLI, "serve", "--port", "0", "--store", url], cli_env())
    try:
        base = f"http://127.0.0.1:{port}"
        unknown = httpx.get(f"{base}/api/sessions/", headers={"X-API-Key": "ox_made-elsewhere"}, timeout=10)
        vendor = httpx.post(
            f"{base}/v1/chat/completions",
            headers={"Authorization": "Bearer sk-proj-abc"},  # (OPENAI_BASE_URL pointed here, the key left as it was)
            json={"model": "auto", "messages": [{"role": "user", "content": "Hi"}]},
            timeout=10,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
    assert unknown.status_code == vendor.status_code == 401
    said = vendor.json()["error"]["message"]
    assert said.startswith("unknown API key: it looks like an OpenAI API key, not one of this server's"), said
    if kept == "file":
        assert unknown.json()["detail"] == "unknown API key (create one with `orchestratex keys create USER_ID`)"
        assert said.endswith(", created with `orchestratex keys create USER_ID`"), said
        return
    store_hint = (
        "this server's store lives in its memory, which `orchestratex keys create` cannot reach: serve a store that"
        " lasts (`orchestratex serve --store sqlite:///…`, `create_app(store_url=…)`) and create the key in it"
        " (`orchestratex keys create USER_ID --store sqlite:///…`)"
    )
    assert unknown.json()["detail"] == f"unknown API key: {store_hint}"
    assert said.endswith(f"; {store_hint}"), said


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_a_wildcard_host_prints_addresses_a_browser_can_open(tmp_path: Path, host: str) -> None:
    """`serve --host 0.0.0.0` (as in a container) printed `web console at http://0.0.0.0:8000/`, an address browsers
    refuse to open (Chrome since 2024, and Windows always)."""
    if host == "::" and not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    args = [*CLI, "serve", "--host", host, "--port", "0", "--store", f"sqlite:///{tmp_path / 's.db'}"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=cli_env())
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("orchestratex: web console at ") or proc.poll() is not None:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
    said = "".join(lines)
    if host == "::" and "cannot listen" in said:
        pytest.skip("IPv6 is not configured here")
    local = "127.0.0.1" if host == "0.0.0.0" else "[::1]"
    found = re.search(rf"serving http://{re.escape(local)}:(\d+) \(store ", said)
    assert found is not None, said
    assert f"listening on every address of this machine (--host {host})" in said
    assert f"web console at http://{local}:{found.group(1)}/" in said
    assert "http://0.0.0.0" not in said and "http://[::]" not in said


@pytest.mark.parametrize("host", ["0", "0.0"])
def test_a_wildcard_address_written_short_is_said_to_listen_on_every_address(tmp_path: Path, host: str) -> None:
    """`serve --host 0` (as `python -m http.server --bind 0` takes it) listens on every address, as 0.0.0.0 does, but
    said only `serving http://0:8000` — a URL browsers refuse — and not that the server was open to the network."""
    args = [*CLI, "serve", "--host", host, "--port", "0", "--store", f"sqlite:///{tmp_path / 's.db'}"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=cli_env())
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("orchestratex: web console at ") or proc.poll() is not None:
                break
        said = "".join(lines)
        found = re.search(r"serving http://127\.0\.0\.1:(\d+) \(store ", said)
        assert found is not None, said
        assert f"listening on every address of this machine (--host {host})" in said
        deadline = time.monotonic() + 60
        while True:  # (the URL it printed opens, once uvicorn has started)
            try:
                assert httpx.get(f"http://127.0.0.1:{found.group(1)}/health", timeout=5).status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.mark.skipif(sys.platform == "win32", reason="closing a file descriptor before exec is POSIX")
def test_serve_with_stdout_closed_serves(tmp_path: Path) -> None:
    """`orchestratex serve >&-` (as a service manager may start it): the command lets `serve` run without a stdout,
    but uvicorn's log formatter asked `sys.stdout.isatty()` of None, and the server died with a traceback."""
    args = [*CLI, "serve", "--port", "0", "--store", f"sqlite:///{tmp_path / 's.db'}"]
    proc, port = _serving(args, cli_env(), close_fds=True, preexec_fn=lambda: os.close(1))
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json() == {"status": "ok"}
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err


@pytest.mark.parametrize(
    ("given", "says"),
    [
        (
            "localhost:8000",
            "'localhost:8000' is an address with its port: --host takes the address alone (its port goes"
            " in --port): --host localhost --port 8000",
        ),
        (
            "http://127.0.0.1:9000/",
            "'http://127.0.0.1:9000/' is a URL: --host takes the address alone (its port goes"
            " in --port): --host 127.0.0.1 --port 9000",
        ),
        (
            "[::1]:8000",
            "'[::1]:8000' is an address with its port: --host takes the address alone (its port goes in"
            " --port): --host ::1 --port 8000",
        ),
        ("http://localhost", "'http://localhost' is a URL: --host takes the address alone: --host localhost"),
    ],
)
def test_a_host_given_with_its_port_or_as_a_url_is_refused_with_the_options_to_type(
    tmp_path: Path, given: str, says: str
) -> None:
    """`serve --host localhost:8000` (the address as a client is given it, or as `serve` prints it) was looked up as a
    host name: "cannot listen on localhost:8000:8000: Name or service not known: give another --port", though the port
    was no fault."""
    done = run_cli("serve", "--host", given, "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"orchestratex serve: error: argument --host: {says}"]
    assert list(tmp_path.iterdir()) == []


def test_a_host_that_is_not_this_machines_is_told_to_change_the_host_not_the_port(tmp_path: Path) -> None:
    """A host name that does not resolve (`--host lcoalhost`) or an address of another machine was told "give another
    --port (or a --host of this machine)", though no port would do."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    unknown = run_cli("serve", "--host", "no-such-host.invalid", "--port", "0", "--store", url)
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert re.fullmatch(
        r"orchestratex: error: cannot listen on no-such-host\.invalid:0: no such host \(.+\): give a --host of this"
        r" machine \(127\.0\.0\.1, or 0\.0\.0\.0 for every address\)\n",
        unknown.stderr,
    ), unknown.stderr
    elsewhere = run_cli("serve", "--host", "192.0.2.1", "--port", "0", "--store", url)  # (TEST-NET-1: no one's)
    assert elsewhere.returncode == 1 and elsewhere.stdout == ""
    assert elsewhere.stderr.splitlines() == [
        "orchestratex: error: cannot listen on 192.0.2.1:0: Cannot assign requested address: it is not an address of"
        " this machine: give one (127.0.0.1, or 0.0.0.0 for every address)"
    ]


@pytest.mark.parametrize("threshold", ["4294967296", "99999999999999999999"])
def test_a_gc_threshold_past_what_python_takes_is_one_line(tmp_path: Path, threshold: str) -> None:
    """`ORCHESTRATEX_GC_THRESHOLD=10000000000` (a collector as good as off, for a benchmark) ended `serve` with a
    traceback, "OverflowError: signed integer is greater than maximum", from `gc.set_threshold`, which takes a C
    int: it is refused as any setting out of its range is, before the store is opened."""
    done = run_cli(
        "serve", "--port", "0", "--store", f"sqlite:///{tmp_path / 's.db'}",
        env=cli_env(ORCHESTRATEX_GC_THRESHOLD=threshold),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"orchestratex: error: ORCHESTRATEX_GC_THRESHOLD: Input should be less than or equal to 2147483647, not"
        f" '{threshold}'"
    ]
    assert not (tmp_path / "s.db").exists()


def test_a_catalog_that_is_a_directory_is_said_to_be_one(tmp_path: Path) -> None:
    """`serve --catalog conf/` (the folder, not the file in it) was refused as "no regular file (a pipe, as <(…) or
    /dev/stdin give) that could be read twice: save it to a file", when it was no pipe; `run` and `models` said
    "Is a directory"."""
    done = run_cli("serve", "--port", "0", "--store", f"sqlite:///{tmp_path / 's.db'}", "--catalog", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"orchestratex: error: cannot read catalog file '{tmp_path}': Is a directory"]
    assert done.stderr == run_cli("models", "--catalog", str(tmp_path)).stderr


def test_a_catalog_that_cannot_be_read_twice_is_refused_not_replaced_by_the_shipped_one(tmp_path: Path) -> None:
    """`serve --catalog <(curl …)` (a pipe) was checked, then read again, empty, by the server as it started: it
    served the shipped catalog, simulated ("serving … simulated models"), the file's models and endpoints gone."""
    read, write = os.pipe()
    os.write(write, b'[providers.local]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n')
    os.close(write)
    args = [*CLI, "serve", "--port", "0", "--store", f"sqlite:///{tmp_path / 's.db'}", "--catalog", f"/dev/fd/{read}"]
    proc = subprocess.Popen(
        args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=cli_env(), pass_fds=(read,)
    )
    os.close(read)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert first == (
            f"orchestratex: error: --catalog /dev/fd/{read}: the server reads its catalog file again as it starts, and"
            " this is no regular file (a pipe, as <(…) or /dev/stdin give) that could be read twice: save it to a file"
            " and give that file\n"
        ), first
        assert proc.wait(timeout=60) == 2
    finally:
        proc.kill()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
