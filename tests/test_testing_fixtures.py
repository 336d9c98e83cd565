"""`orchestratex.testing.fixtures`: a suite that uses them gets the same results on every machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _suite_run(tmp_path: Path, suite: str, machine: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`suite` run by pytest in `tmp_path` as a user's suite (its conftest blocks model requests and takes the
    fixtures), in a process whose environment has the machine's variables `machine` besides this one's."""
    (tmp_path / "conftest.py").write_text(
        "from orchestratex.testing.fixtures import block_model_requests, hide_provider_variables  # noqa: F401\n\n"
        "block_model_requests()\n",
        encoding="utf-8",
    )
    (tmp_path / "test_mine.py").write_text(suite, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio", "-W", "error"],
        cwd=tmp_path,
        env={**os.environ, **machine, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=120,
    )


SUITE = """
import os

from orchestratex import Orchestrator
from orchestratex.testing.fixtures import PROVIDER_VARIABLES


def test_the_machines_variables_are_hidden() -> None:
    assert not [name for name in PROVIDER_VARIABLES if name in os.environ]
    orchestrator = Orchestrator()
    assert orchestrator.simulated and orchestrator.providers["sim"].seed == 0
"""


def test_a_simulator_seed_set_on_the_machine_does_not_reach_the_tests(tmp_path: Path) -> None:
    # ORCHESTRATEX_SIM_SEED in a developer's shell profile gave every simulated run of their suite other models,
    # scores and costs than CI's
    done = _suite_run(tmp_path, SUITE, {"ORCHESTRATEX_SIM_SEED": "7", "OPENAI_API_KEY": "sk-test"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


LIVE_THEN_OFFLINE = """
import pytest

import orchestratex.providers


@pytest.mark.live
def test_1_calls_a_real_provider() -> None:
    orchestratex.providers.ALLOW_MODEL_REQUESTS = True  # as docs/testing.md says a live test does


def test_2_is_blocked_again() -> None:
    assert orchestratex.providers.ALLOW_MODEL_REQUESTS is False
"""


def test_a_live_test_that_allows_requests_allows_them_for_itself_only(tmp_path: Path) -> None:
    # The switch a live test set stayed True for every test after it: an accidental real call in them no longer
    # failed loudly, and spent money.
    (tmp_path / "conftest.py").write_text(
        "from orchestratex.testing.fixtures import block_model_requests, hide_provider_variables  # noqa: F401\n\n"
        "block_model_requests()\n",
        encoding="utf-8",
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    live: calls a real provider\n", encoding="utf-8")
    (tmp_path / "test_mine.py").write_text(LIVE_THEN_OFFLINE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio", "-W", "error"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


MACHINE_SETTINGS = """
import logging

import pytest

from orchestratex import Orchestrator


def test_runs_as_on_any_machine(caplog: pytest.LogCaptureFixture) -> None:
    orchestrator = Orchestrator()  # (a mistyped ORCHESTRATEX_TRACING made this fail)
    assert orchestrator.providers["sim"].latency_scale == 1
    orchestrator.providers["sim"].latency_scale = 0
    with caplog.at_level(logging.DEBUG, logger="orchestratex"):
        orchestrator.run_sync("The secret prompt", max_iterations=1)
    assert "The secret prompt" not in caplog.text
    orchestrator.close()
"""


def test_the_machines_telemetry_and_simulator_settings_do_not_reach_the_tests(tmp_path: Path) -> None:
    # ORCHESTRATEX_TRACING=enabled (mistyped) in a developer's shell failed every test that made an Orchestrator;
    # ORCHESTRATEX_LOG_CONTENT=true put prompts in the log lines a test reads; ORCHESTRATEX_SIM_LATENCY_SCALE changed
    # how the simulated runs interleave (and how long the suite took)
    done = _suite_run(
        tmp_path,
        MACHINE_SETTINGS,
        {"ORCHESTRATEX_TRACING": "enabled", "ORCHESTRATEX_LOG_CONTENT": "true", "ORCHESTRATEX_SIM_LATENCY_SCALE": "0"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


TRACER_PROVIDER = """
from orchestratex import Orchestrator


def test_makes_an_orchestrator_and_runs() -> None:
    orchestrator = Orchestrator()  # (OTEL_PYTHON_TRACER_PROVIDER naming no installed provider made this fail)
    orchestrator.providers["sim"].latency_scale = 0
    assert orchestrator.run_sync("Hello", max_iterations=1).status == "completed"
    orchestrator.close()
"""


def test_a_tracer_provider_named_on_the_machine_does_not_reach_the_tests(tmp_path: Path) -> None:
    # OTEL_PYTHON_TRACER_PROVIDER in a developer's shell (for an application whose virtualenv has that provider)
    # failed every test that made an Orchestrator ("ConfigurationError: OTEL_PYTHON_TRACER_PROVIDER: OpenTelemetry
    # cannot load the tracer provider …"), and one the tests' virtualenv has made their runs trace
    done = _suite_run(tmp_path, TRACER_PROVIDER, {"OTEL_PYTHON_TRACER_PROVIDER": "acme_tracer_provider"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


PROVIDER_TIMEOUT = """
import pytest

from orchestratex import Orchestrator


def test_my_app_uses_openai_when_its_key_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # (requests stay blocked: block_model_requests)
    orchestrator = Orchestrator()
    assert not orchestrator.simulated and "openai" in orchestrator.providers
"""


def test_a_provider_timeout_set_on_the_machine_does_not_reach_the_tests(tmp_path: Path) -> None:
    # ORCHESTRATEX_PROVIDER_TIMEOUT_S in a developer's shell (set for a local model on a CPU, as docs/providers say)
    # gave the providers their tests build from the environment another timeout than CI's, and a value that is no
    # number failed every such test ("ConfigurationError: ORCHESTRATEX_PROVIDER_TIMEOUT_S must be a number …")
    done = _suite_run(tmp_path, PROVIDER_TIMEOUT, {"ORCHESTRATEX_PROVIDER_TIMEOUT_S": "ten minutes"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


ANTHROPIC_MOCK = """
import asyncio
import json

import httpx2

from orchestratex.catalog import ModelProfile
from orchestratex.providers import GenerationRequest, Message
from orchestratex_anthropic import AnthropicProvider

CLAUDE = ModelProfile(name="anthropic:claude-sonnet-4-5", input_cost_per_1k=0.003, output_cost_per_1k=0.015)


def test_my_provider_sends_its_own_key_and_nothing_else() -> None:
    headers = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        headers.append(dict(request.headers))
        message = {
            "id": "msg_1", "type": "message", "role": "assistant", "model": json.loads(request.content)["model"],
            "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 1},
        }
        return httpx2.Response(200, json=message)

    transport = httpx2.MockTransport(answer)
    provider = AnthropicProvider(api_key="sk-ant-test", http_client=httpx2.AsyncClient(transport=transport))
    request = GenerationRequest(model=CLAUDE, messages=[Message(role="user", content="Hi")], max_output_tokens=8)
    assert asyncio.run(provider.generate(request)).text == "Hi"
    [sent] = headers
    assert "sk-ant-test" in str(sent) and "gateway" not in str(sent) and "x-gateway" not in sent, sent
"""


def test_the_anthropic_sdk_s_own_variables_on_the_machine_do_not_reach_the_tests(tmp_path: Path) -> None:
    # A Claude Code user's shell sets ANTHROPIC_CUSTOM_HEADERS (a gateway's headers) and ANTHROPIC_AUTH_TOKEN, which the
    # Anthropic SDK reads itself: the custom headers went into every request of their suite's mocked providers, an
    # Authorization line among them replacing the key the test gave (OrchestrateX's own contract tests failed so)
    done = _suite_run(
        tmp_path,
        ANTHROPIC_MOCK,
        {
            "ANTHROPIC_CUSTOM_HEADERS": "Authorization: Bearer gateway-token\nx-gateway: gateway-key",
            "ANTHROPIC_AUTH_TOKEN": "gateway-oauth-token",
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


ACME_ADAPTER = """
from orchestratex.providers import Generation, GenerationRequest, Provider


class AcmeProvider(Provider):
    name = "acme"
    env_vars = ("ACME_API_KEY",)

    @classmethod
    def from_env(cls, env=None):
        return cls()

    async def generate(self, request: GenerationRequest) -> Generation:
        raise NotImplementedError
"""


def test_a_third_party_adapter_s_key_on_the_machine_does_not_reach_the_tests(tmp_path: Path) -> None:
    # only the built-in providers' variables were hidden: with a third-party adapter installed (an entry point of
    # `orchestratex.providers`) and its key set, `Orchestrator()` in a test used that adapter, not the simulator
    (tmp_path / "acme_adapter.py").write_text(ACME_ADAPTER, encoding="utf-8")
    info = tmp_path / "acme_adapter-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-adapter\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[orchestratex.providers]\nacme = acme_adapter:AcmeProvider\n", encoding="utf-8"
    )
    suite = SUITE + (
        "\n\ndef test_the_adapter_s_models_are_simulated() -> None:\n"
        "    from orchestratex import ModelCatalog, ModelProfile\n"
        "    from orchestratex.providers._registry import provider_names\n\n"
        "    assert 'acme' in provider_names() and 'ACME_API_KEY' not in os.environ\n"
        "    catalog = ModelCatalog([ModelProfile(name='acme:m1', cost_per_1k_tokens=0.001)])\n"
        "    assert Orchestrator(catalog=catalog).simulated\n"
    )
    done = _suite_run(tmp_path, suite, {"ACME_API_KEY": "acme-key"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
