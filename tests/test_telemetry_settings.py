"""Telemetry settings from the environment: every accepted value, and a clear error for any other one."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from orchestratex import Orchestrator
from orchestratex.exceptions import ConfigurationError
from orchestratex.server import ServerSettings
from orchestratex.telemetry import TelemetrySettings, _settings, configure_telemetry, telemetry_settings

ROOT = Path(__file__).resolve().parents[1]
ACCEPTED = "Input should be true or false (or 1/0, yes/no, on/off)"


@pytest.mark.parametrize(
    ("env", "tracing", "content"),
    [
        ({}, True, False),
        ({"ORCHESTRATEX_TRACING": "OFF", "ORCHESTRATEX_LOG_CONTENT": " Yes "}, False, True),
        ({"ORCHESTRATEX_TRACING": "0", "ORCHESTRATEX_LOG_CONTENT": "false"}, False, False),
        ({"ORCHESTRATEX_TRACING": "", "ORCHESTRATEX_LOG_CONTENT": "  "}, True, False),  # empty: the default
        ({"ORCHESTRATEX_LOG_CONTENT": "no", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}, True, True),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"}, True, False),  # another library's value
    ],
)
def test_accepted_values(env: dict[str, str], tracing: bool, content: bool) -> None:
    assert TelemetrySettings.from_env(env) == TelemetrySettings(tracing=tracing, include_content=content)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ORCHESTRATEX_TRACING", "enabled"),
        ("ORCHESTRATEX_TRACING", "disable"),
        ("ORCHESTRATEX_LOG_CONTENT", "yes please"),
    ],
)
def test_a_mistyped_value_names_the_variable_the_value_and_the_accepted_values(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        TelemetrySettings.from_env({name: value})
    assert str(caught.value) == f"{name}: {ACCEPTED}, not {value!r}"


def test_an_orchestrator_refuses_a_mistyped_variable_when_it_is_constructed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_settings, "_current", None)  # (the settings are read from the environment once)
    monkeypatch.setenv("ORCHESTRATEX_TRACING", "enabled")
    with pytest.raises(ConfigurationError, match=r"^ORCHESTRATEX_TRACING: .*, not 'enabled'$"):
        Orchestrator(simulate=True)
    monkeypatch.setenv("ORCHESTRATEX_TRACING", "off")
    assert _settings.telemetry_settings().tracing is False
    Orchestrator(simulate=True)


def test_a_tracer_provider_named_by_the_environment_that_cannot_be_loaded_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    """`OTEL_PYTHON_TRACER_PROVIDER=bogus` (a provider no installed package has) failed the first run inside the
    orchestration: OpenTelemetry's logged traceback, then "RuntimeError: coroutine raised StopIteration" (exit 1),
    and the orchestration was left `pending`, for a server on the store to resume and fail on again."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("ORCHESTRATEX_")}
    env.update(OTEL_PYTHON_TRACER_PROVIDER="bogus", ORCHESTRATEX_SIM_LATENCY_SCALE="0")
    says = (
        "orchestratex: error: OTEL_PYTHON_TRACER_PROVIDER: OpenTelemetry cannot load the tracer provider 'bogus' (no"
        " installed package provides one of that name); name one of "
    )
    url = f"sqlite:///{tmp_path / 's.db'}"
    for args in (["run", "Say hi", "--max-iterations", "1"], ["serve", "--port", str(_free_port())]):
        command = [sys.executable, "-m", "orchestratex", *args, "--store", url]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
        assert done.returncode == 2 and done.stdout == "", done
        [line] = done.stderr.splitlines()
        assert line.startswith(says) and "sdk_tracer_provider" in line and line.endswith(", or unset it"), line
    run = [sys.executable, "-m", "orchestratex", "runs", "list", "--json", "--store", url]
    assert subprocess.run(run, capture_output=True, text=True, env=env, timeout=60, check=False).stdout in ("", "[]\n")
    # tracing off: no run looks for a tracer provider, so none is refused
    env["ORCHESTRATEX_TRACING"] = "false"
    command = [sys.executable, "-m", "orchestratex", "run", "Say hi", "--max-iterations", "1", "--store", url]
    assert subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False).returncode == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("ORCHESTRATEX_TRACING", "enabled", ACCEPTED),
        ("ORCHESTRATEX_LOG_CONTENT", "sometimes", ACCEPTED),
        ("ORCHESTRATEX_ACCESS_LOG", "maybe", ACCEPTED),
        ("ORCHESTRATEX_METRICS", "public", "Input should be 'admin', 'key', 'open' or 'off'"),
    ],
)
def test_serve_exits_before_serving_on_a_mistyped_variable(
    tmp_path: Path, name: str, value: str, accepted: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("ORCHESTRATEX_")}
    env[name] = value
    port = str(_free_port())
    args = [sys.executable, "-m", "orchestratex", "serve", "--port", port, "--store", f"sqlite:///{tmp_path / 's.db'}"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"orchestratex: error: {name}: {accepted}, not {value!r}"]
    assert not (tmp_path / "s.db").exists()  # refused before the store was opened


def test_operate_docs_list_every_variable_the_code_reads() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "src").rglob("*.py"))
    read = set(re.findall(r"ORCHESTRATEX_[A-Z][A-Z_]*[A-Z]", source))
    read |= {f"ORCHESTRATEX_{field.upper()}" for field in ServerSettings.model_fields}
    read |= {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "OTEL_PYTHON_TRACER_PROVIDER"}
    table = ROOT.joinpath("docs/operate.md").read_text().split("## Environment variables", 1)[1]
    listed = set(re.findall(r"^\| `([A-Z_]+)`", table, flags=re.MULTILINE))
    assert sorted(read - listed) == []


@pytest.mark.parametrize("value", ["false", "true", 0, 1, "no"])
def test_configure_telemetry_refuses_what_is_not_a_bool(value: object) -> None:
    """`configure_telemetry(include_content="false")` (a value read from a setting of one's own) was taken as true:
    every prompt, answer and judge's feedback went into the log lines and spans."""
    before = telemetry_settings()
    for name in ("include_content", "tracing"):
        with pytest.raises(ConfigurationError, match=rf"{name} should be True or False, not {value!r}"):
            configure_telemetry(**{name: value})  # type: ignore[arg-type]
    assert telemetry_settings() == before
