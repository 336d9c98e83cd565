"""`ServerSettings.from_env`: every field from `ORCHESTRATEX_<FIELD>`, bad values named."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestratex.exceptions import ConfigurationError
from orchestratex.server import ServerSettings

from .server_process import CLI, child_env, free_port


def test_defaults_are_the_spec_limits() -> None:
    s = ServerSettings.from_env({})
    assert (s.rate_limit, s.rate_window_s, s.max_concurrent, s.max_body_bytes) == (100, 60, 10, 5 * 1024 * 1024)
    assert s.resume_every_s == s.lease_ttl_s / 2


def test_values_come_from_the_environment_then_overrides() -> None:
    env = {"ORCHESTRATEX_RATE_LIMIT": "7", "ORCHESTRATEX_HEARTBEAT_S": "2.5", "ORCHESTRATEX_LEASE_TTL_S": " "}
    s = ServerSettings.from_env(env, max_concurrent=3)
    assert (s.rate_limit, s.heartbeat_s, s.max_concurrent, s.lease_ttl_s) == (7, 2.5, 3, 60.0)


@pytest.mark.parametrize(("name", "value"), [("RATE_LIMIT", "0"), ("HEARTBEAT_S", "often"), ("MAX_BODY_BYTES", "-1")])
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"ORCHESTRATEX_{name}: "):
        ServerSettings.from_env({f"ORCHESTRATEX_{name}": value})


@pytest.mark.parametrize(
    ("name", "value"),
    [("LEASE_TTL_S", "inf"), ("SHUTDOWN_GRACE_S", "inf"), ("HEADER_TIMEOUT_S", "1e400"), ("AUTH_CACHE_S", "Infinity")],
)
def test_an_infinite_time_is_refused_with_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ServerSettings.from_env({f"ORCHESTRATEX_{name}": value})
    assert str(caught.value) == f"ORCHESTRATEX_{name}: Input should be a finite number, not {value!r}"


def test_serve_refuses_an_infinite_lease_in_one_line_naming_the_variable(tmp_path: Path) -> None:
    env = child_env({"ORCHESTRATEX_LEASE_TTL_S": "inf"})
    args = [*CLI, "serve", "--port", str(free_port()), "--store", f"sqlite:///{tmp_path / 'ox.db'}"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "orchestratex: error: ORCHESTRATEX_LEASE_TTL_S: Input should be a finite number, not 'inf'"
    ]


@pytest.mark.parametrize(
    ("name", "value", "shortest"),
    [
        ("LEASE_TTL_S", "0.001", "1"),
        ("RESUME_INTERVAL_S", "0.0005", "0.05"),
        ("POLL_INTERVAL_S", "0.001", "0.01"),
        ("HEARTBEAT_S", "1e-4", "0.05"),
        ("WS_AUTH_CHECK_S", "0.01", "0.05"),
    ],
)
def test_an_interval_too_short_to_serve_with_is_refused_saying_the_shortest(
    name: str, value: str, shortest: str
) -> None:
    """`ORCHESTRATEX_LEASE_TTL_S=0.001` was taken: the idle server looked for runs to resume every half millisecond
    and spun on the store (about half a core of this machine), and renewed each run's lease every third of that."""
    with pytest.raises(ConfigurationError) as caught:
        ServerSettings.from_env({f"ORCHESTRATEX_{name}": value})
    assert str(caught.value).startswith(
        f"ORCHESTRATEX_{name}: {float(value):g} s is too short: give at least {shortest} s ("
    )
    ServerSettings.from_env({f"ORCHESTRATEX_{name}": shortest})  # (the shortest is taken)


def test_serve_refuses_a_lease_of_a_millisecond_in_one_line(tmp_path: Path) -> None:
    env = child_env({"ORCHESTRATEX_LEASE_TTL_S": "0.001"})
    args = [*CLI, "serve", "--port", str(free_port()), "--store", f"sqlite:///{tmp_path / 'ox.db'}"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "orchestratex: error: ORCHESTRATEX_LEASE_TTL_S: 0.001 s is too short: give at least 1 s (a running"
        " orchestration's lease is renewed every third of it, one store write each: a shorter one lapses at the first"
        " slow write, and another server takes the run over)"
    ]


def test_a_named_value_is_taken_in_any_case() -> None:
    """`ORCHESTRATEX_METRICS=Open` was refused ("Input should be 'admin', 'key', 'open' or 'off', not 'Open'"), though
    the on/off variables take theirs in any case and white space around it was taken."""
    env = {"ORCHESTRATEX_METRICS": "Open", "ORCHESTRATEX_DOCS": "KEY", "ORCHESTRATEX_LOG_FORMAT": " Json "}
    s = ServerSettings.from_env(env)
    assert (s.metrics, s.docs, s.log_format) == ("open", "key", "json")
    with pytest.raises(ConfigurationError, match="ORCHESTRATEX_METRICS: Input should be 'admin', 'key', 'open' or"):
        ServerSettings.from_env({"ORCHESTRATEX_METRICS": "public"})


def test_serve_with_log_format_json_in_capitals_writes_json(tmp_path: Path) -> None:
    """`ORCHESTRATEX_LOG_FORMAT=JSON` made `orchestratex serve` write, as a JSON line, that `JSON` was no log format
    (`'text'` or `'json'`) and exit: the command read the variable in any case, the settings did not."""
    import json

    env = child_env({"ORCHESTRATEX_LOG_FORMAT": "JSON", "ORCHESTRATEX_TRACING": "enabled"})
    args = [*CLI, "serve", "--port", str(free_port()), "--store", f"sqlite:///{tmp_path / 'ox.db'}"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 2
    (line,) = [json.loads(text) for text in done.stderr.splitlines()]  # (the next refused setting: the format taken)
    assert line["message"].startswith("ORCHESTRATEX_TRACING: Input should be true or false"), line
