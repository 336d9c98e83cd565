"""A run interrupted while a real model answers: its call is abandoned, its cost unknown (the answer never ended) and
not in `total_cost`; the command and `runs show` say so rather than only `$0.000000 spent`. Real processes, a real
OpenAI-compatible HTTP server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from orchestratex.testing.provider_contract import Reply, local_server

from .conftest import CLI, cli_env, run_cli, stored

pytest.importorskip("orchestratex_openai")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def test_an_interrupted_call_in_flight_is_said_to_be_maybe_billed(store_url: str) -> None:
    called, release = threading.Event(), threading.Event()

    def slow(sent: dict[str, Any]) -> Reply:
        called.set()
        release.wait(60)  # the model is still answering when the signal comes
        return Reply(503)

    with local_server(slow) as base:
        env = cli_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=f"{base}/v1")
        proc = subprocess.Popen(
            [*CLI, "run", "What is 6*7?", "--provider", "openai", "--json", "--store", store_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert called.wait(60), "the run made no call"
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        finally:
            release.set()
            proc.kill()
    assert proc.returncode == 143, err
    (doc,), _ = stored(store_url)
    assert doc.status == "cancelled" and doc.abandoned_calls == 1 and doc.total_cost == 0
    assert json.loads(out)["abandoned_calls"] == 1
    assert err.strip() == (
        f"orchestratex: interrupted by SIGTERM: orchestration {doc.id} ended cancelled ($0.000000 spent, not counting "
        "1 call abandoned in flight, which the provider may have billed); nothing will resume it"
    )
    shown = run_cli("runs", "show", doc.id, "--store", store_url, env=env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "note:     $0.000000 spent, not counting 1 call abandoned in flight, which the provider may have billed" in (
        lines
    )
    [call] = [line for line in lines if line.startswith("#1 ")]
    assert call.endswith("(selected) · no answer: the call was abandoned"), call  # not "0 tokens · $0.000000 · 0.0 s"


_FREE_CATALOG = """
include_default = false

[providers.ollama]
kind = "openai"
base_url = "{base}/v1"

[[models]]
name = "ollama:llama3.2"
cost_per_1k_tokens = 0

[[models]]
name = "ollama:qwen2.5"
cost_per_1k_tokens = 0
"""


def _interrupted_free_run(store_url: str, catalog: Path, signame: str) -> str:
    """`orchestratex run` of the Ollama models `catalog` prices at $0, sent `signame` while its first call waits: its
    standard error."""
    called, release = threading.Event(), threading.Event()

    def slow(sent: dict[str, Any]) -> Reply:
        called.set()
        release.wait(60)
        return Reply(503)

    with local_server(slow) as base:
        catalog.write_text(_FREE_CATALOG.format(base=base))
        args = ["run", "What is 6*7?", "--catalog", str(catalog), "--provider", "ollama", "--store", store_url]
        proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
        try:
            assert called.wait(60), "the run made no call"
            proc.send_signal(getattr(signal, signame))
            _, err = proc.communicate(timeout=60)
        finally:
            release.set()
            proc.kill()
    return err


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_call_abandoned_of_a_free_model_is_not_said_to_be_billed(
    signame: str, store_url: str, tmp_path: Path
) -> None:
    """Ctrl-C on a run of Ollama models priced at $0 in a catalog file said the abandoned call was one "which the
    provider may have billed": no provider bills a model the catalog says is free."""
    err = _interrupted_free_run(store_url, tmp_path / "models.toml", signame)
    (doc,), _ = stored(store_url)
    assert doc.status == "cancelled" and doc.abandoned_calls == 1
    assert err.strip() == (
        f"orchestratex: interrupted by {signame}: orchestration {doc.id} ended cancelled ($0.000000 spent); nothing"
        " will resume it"
    )


def test_runs_show_does_not_say_a_free_models_abandoned_call_was_billed(store_url: str, tmp_path: Path) -> None:
    """`runs show` of a run of Ollama models priced at $0 said its abandoned call was one "which the provider may have
    billed" (the command that ran it no longer did). Given the catalog (`--catalog`, or ORCHESTRATEX_CATALOG) it
    knows the models are free; without it, the price of `ollama:llama3.2` is unknown, and it still says so."""
    catalog = tmp_path / "models.toml"
    _interrupted_free_run(store_url, catalog, "SIGINT")
    (doc,), _ = stored(store_url)
    assert doc.status == "cancelled" and doc.abandoned_calls == 1

    for env, extra in ((cli_env(), ["--catalog", str(catalog)]), (cli_env(ORCHESTRATEX_CATALOG=str(catalog)), [])):
        shown = run_cli("runs", "show", doc.id, "--store", store_url, *extra, env=env)
        assert shown.returncode == 0, shown.stderr
        assert "billed" not in shown.stdout, shown.stdout
        assert f"orchestration {doc.id}: cancelled" in shown.stdout.splitlines()
    unknown = run_cli("runs", "show", doc.id, "--store", store_url)  # (the shipped catalog has no such model)
    assert "note:     $0.000000 spent, not counting 1 call abandoned in flight, which the provider may have billed" in (
        unknown.stdout.splitlines()
    )


_FUNCTION_RUN = """
import asyncio, json, sys
from orchestratex import FunctionProvider, ModelCatalog, ModelProfile, Orchestrator
from orchestratex.stores import open_store

PRICE = float(sys.argv[2])
calls = 0


async def answer(request):
    global calls
    if request.purpose == "judge":
        return json.dumps({"score": 5.0, "feedback": "Say more."})
    calls += 1
    if calls == 2:  # the second answer never comes: the run is cancelled while it is awaited
        print("in flight", flush=True)
        await asyncio.sleep(60)
    return "An answer of a local model."


async def main():
    store = await open_store(sys.argv[1])
    catalog = ModelCatalog([ModelProfile(name=f"function:{n}", cost_per_1k_tokens=PRICE) for n in ("a", "b")])
    async with Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog, store=store) as o:
        task = asyncio.ensure_future(o.run("Explain tides", max_iterations=3, evaluation_threshold=9))
        while calls < 2 and not task.done():
            await asyncio.sleep(0.01)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    await store.close()

asyncio.run(main())
"""


@pytest.mark.parametrize(("price", "billed"), [(0.0, False), (0.001, True)])
def test_runs_show_of_a_function_providers_free_model_does_not_say_billed(
    store_url: str, price: float, billed: bool
) -> None:
    """A run of an SDK's `FunctionProvider` model priced at $0, cancelled while it answered, was said by `runs show`
    to have abandoned a call "which the provider may have billed": no catalog the command reads knows the model,
    but the run's own record shows it answered for $0. Priced, the note stays."""
    done = subprocess.run(
        [sys.executable, "-c", _FUNCTION_RUN, store_url, str(price)],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (doc,), _ = stored(store_url)
    assert doc.status == "cancelled" and doc.abandoned_calls == 1, doc
    assert doc.iterations[0].usage.total_tokens > 0 and doc.iterations[0].evaluation is not None
    shown = run_cli("runs", "show", doc.id, "--store", store_url)
    assert shown.returncode == 0, shown.stderr
    assert ("which the provider may have billed" in shown.stdout) is billed, shown.stdout
