"""A catalog file as Windows editors save it: a UTF-8 byte order mark, CRLF line endings, an upper-case extension."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import cli_env, run_cli

TOML = """include_default = true

[providers.ollama]
kind = "openai"
base_url = "http://localhost:11434/v1"

[[models]]
name = "ollama:llama3.2"
input_cost_per_1k = 0
output_cost_per_1k = 0
"""

JSON = {
    "providers": {"ollama": {"kind": "openai", "base_url": "http://localhost:11434/v1"}},
    "models": [{"name": "ollama:llama3.2", "input_cost_per_1k": 0, "output_cost_per_1k": 0}],
}


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("models.toml", "\ufeff" + TOML.replace("\n", "\r\n")),  # Notepad's "UTF-8 with BOM", Windows line endings
        ("models.toml", "\ufeff" + TOML),
        ("MODELS.JSON", json.dumps(JSON)),
        ("models.Json", "\ufeff" + json.dumps(JSON)),
    ],
)
def test_models_and_run_read_a_catalog_file_saved_on_windows(tmp_path: Path, name: str, content: str) -> None:
    """A TOML file starting with a byte order mark was refused as `not valid TOML: Invalid statement (at line 1,
    column 1)`, a line that looks right in every editor; a JSON file named `MODELS.JSON` was read as TOML."""
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8"))
    listed = run_cli("models", "--json", "--catalog", str(path))
    assert listed.returncode == 0, listed.stderr
    models = {m["name"]: m for m in json.loads(listed.stdout)["models"]}
    assert models["ollama:llama3.2"]["provider_status"] == "ready"
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    done = run_cli("run", "Hello", "--json", "--provider", "sim", "--catalog", str(path), "--store", url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "completed"


@pytest.mark.parametrize("value", ["{path}\r", "{path} ", " {path}", "\t{path}\r\n"])
def test_the_catalog_variable_from_a_windows_env_file_is_read(tmp_path: Path, value: str) -> None:
    """`ORCHESTRATEX_CATALOG=models.toml` in an env file saved with Windows line endings (docker's `--env-file` and
    systemd's `EnvironmentFile=` keep the `\\r`): `models` and `run` said "cannot read catalog file
    'models.toml\\r': No such file or directory", of a file that was there. White space around the path is dropped,
    as around ORCHESTRATEX_STORE_URL."""
    path = tmp_path / "models.toml"
    path.write_text(TOML)
    env = cli_env(ORCHESTRATEX_CATALOG=value.format(path=path))
    listed = run_cli("models", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "ollama:llama3.2" in {m["name"] for m in json.loads(listed.stdout)["models"]}
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    done = run_cli(
        "run", "Hello", "--json", "--models", "ollama:llama3.2", "--provider", "sim", "--store", url, env=env
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["final_model"].endswith(":llama3.2")  # (the file's model, simulated)


def test_a_blank_catalog_variable_is_the_shipped_catalog() -> None:
    """`ORCHESTRATEX_CATALOG=` followed by a space (or a lone `\\r`) named a file `' '`."""
    listed = run_cli("models", "--json", env=cli_env(ORCHESTRATEX_CATALOG=" \r"))
    assert listed.returncode == 0, listed.stderr
    assert "openai:gpt-4.1" in {m["name"] for m in json.loads(listed.stdout)["models"]}


@pytest.mark.parametrize("quote", ['"', "'"])
def test_a_catalog_variable_in_quotes_is_said_to_be(tmp_path: Path, quote: str) -> None:
    """docker's `--env-file` keeps the quotes of `ORCHESTRATEX_CATALOG="models.toml"`: the error said "No such file or
    directory" of a file that was there, where the same quotes around ORCHESTRATEX_STORE_URL are named as such."""
    path = tmp_path / "models.toml"
    path.write_text(TOML)
    done = run_cli("models", env=cli_env(ORCHESTRATEX_CATALOG=f"{quote}{path}{quote}"))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        f"orchestratex: error: catalog file {quote + str(path) + quote!r} is in quotes: remove them, they are not part"
        " of the path (the catalog named by ORCHESTRATEX_CATALOG)\n"
    )


def test_a_json_catalog_by_a_name_that_does_not_end_in_json_is_read_as_json(tmp_path: Path) -> None:
    """`curl …/models.json | orchestratex models --catalog /dev/stdin` (or `--catalog <(…)`, a `models.conf`) was
    refused as "not valid TOML: Invalid statement (at line 1, column 1)", though nothing in the JSON was wrong."""
    import subprocess

    from .conftest import CLI

    done = subprocess.run(
        [*CLI, "models", "--json", "--catalog", "/dev/stdin"],
        input=json.dumps(JSON),
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ollama:llama3.2" in [m["name"] for m in json.loads(done.stdout)["models"]]
    # JSON with a mistake in it is said to be JSON, where the mistake is
    (tmp_path / "models.conf").write_text('{"models": [')
    bad = run_cli("models", "--catalog", str(tmp_path / "models.conf"))
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [
        f"orchestratex: error: catalog file '{tmp_path / 'models.conf'}' is not valid JSON: Expecting value: line 1"
        " column 13 (char 12)"
    ]


@pytest.mark.parametrize("name", ["models.toml", "models.json"])
def test_a_catalog_file_saved_as_utf16_is_read(tmp_path: Path, name: str) -> None:
    """Windows PowerShell 5 writes UTF-16 (`Get-Content models.toml > copy.toml`, `Out-File`): a TOML catalog so saved
    was refused as "not valid TOML: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte", though
    its byte order mark says which encoding it is (and a JSON one was read). It is read as the text it is."""
    path = tmp_path / name
    path.write_bytes((TOML if name.endswith(".toml") else json.dumps(JSON)).encode("utf-16"))  # (with its BOM)
    listed = run_cli("models", "--json", "--catalog", str(path))
    assert listed.returncode == 0, listed.stderr
    assert "ollama:llama3.2" in {m["name"] for m in json.loads(listed.stdout)["models"]}
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    done = run_cli("run", "Hello", "--json", "--provider", "sim", "--catalog", str(path), "--store", url)
    assert done.returncode == 0, done.stderr


def test_a_catalog_file_that_is_not_utf8_says_so_and_where(tmp_path: Path) -> None:
    """A file saved in a legacy encoding (`# modèles locaux` in Latin-1) was refused with Python's words, "not valid
    TOML: 'utf-8' codec can't decode byte 0xe8 in position 5: invalid continuation byte"."""
    path = tmp_path / "models.toml"
    path.write_bytes(("# modèles locaux\n" + TOML).encode("latin-1"))
    done = run_cli("models", "--catalog", str(path))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"orchestratex: error: catalog file '{path}' is not UTF-8 text (byte 0xe8 at line 1, column 6): save it as"
        " UTF-8 (`iconv -f LATIN1 -t UTF-8`, or your editor's encoding menu)"
    ]
