"""The command line as a user runs it (a subprocess): `run -`, `--version`, `--catalog` and ORCHESTRATEX_CATALOG."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import orchestratex
from orchestratex import Orchestrator, UserError

CATALOG = """
include_default = false

[[models]]
name = "sim:house-large"
input_cost_per_1k = 0
output_cost_per_1k = 0
quality = 8.5

[[models]]
name = "sim:house-small"
input_cost_per_1k = 0
output_cost_per_1k = 0
quality = 6.0

[aliases]
large = "sim:house-large"
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL")) and k != "ORCHESTRATEX_CATALOG"
    }
    env["ORCHESTRATEX_SIM_LATENCY_SCALE"] = "0"
    env["ORCHESTRATEX_STORE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    return env


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestratex.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_run_dash_reads_the_prompt_from_stdin(env: dict[str, str]) -> None:
    prompt = "Explain what a hash map is.\nKeep it short."
    done = cli(env, "run", "-", "--json", "--max-iterations", "1", stdin=prompt + "\n")  # as `echo` pipes it
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["prompt"] == prompt
    indented = "    def f():\n        return 1\n\r\n"  # leading and inner whitespace kept; trailing line endings not
    done = cli(env, "run", "-", "--json", "--max-iterations", "1", stdin=indented)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["prompt"] == "    def f():\n        return 1"
    empty = cli(env, "run", "-", stdin="  \n")
    assert empty.returncode == 2 and "prompt is empty" in empty.stderr


def test_run_dash_drops_a_byte_order_mark(env: dict[str, str]) -> None:
    """A file saved by Notepad starts with U+FEFF: it marks the encoding and is not part of the prompt."""
    done = cli(env, "run", "-", "--json", "--max-iterations", "1", stdin="\ufeffExplain DNS.\r\n")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["prompt"] == "Explain DNS."
    only_mark = cli(env, "run", "-", stdin="\ufeff\n")
    assert only_mark.returncode == 2 and "prompt is empty" in only_mark.stderr, only_mark.stderr


def test_version(env: dict[str, str]) -> None:
    done = cli(env, "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"orchestratex {orchestratex.__version__}"


def test_run_and_models_use_a_catalog_file(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(CATALOG, encoding="utf-8")
    done = cli(env, "run", "Write a haiku", "--catalog", str(path), "--provider", "sim", "--json", "--models", "large")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["final_model"] == "sim:house-large" and result["total_cost"] == 0
    judges = {c for it in result["iterations_detail"] for c in it["evaluation"]["judge_models"]}
    assert judges == {"sim:house-small"}
    listed = cli(env, "models", "--json", "--catalog", str(path))
    assert listed.returncode == 0, listed.stderr
    assert [m["name"] for m in json.loads(listed.stdout)["models"]] == ["sim:house-large", "sim:house-small"]
    env = {**env, "ORCHESTRATEX_CATALOG": str(path)}
    from_env = cli(env, "models", "--json")
    assert [m["name"] for m in json.loads(from_env.stdout)["models"]] == ["sim:house-large", "sim:house-small"]


def test_a_bad_catalog_file_is_one_line_and_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[models]]\nname = "house:unpriced"\n', encoding="utf-8")
    for args in (
        ("run", "hi", "--catalog", str(path)),
        ("models", "--catalog", str(path)),
        ("serve", "--catalog", str(path)),
    ):
        done = cli(env, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and "'house:unpriced'" in done.stderr and "input_cost_per_1k" in done.stderr


def test_a_bad_catalog_named_by_the_variable_says_so(env: dict[str, str], tmp_path: Path) -> None:
    """ORCHESTRATEX_CATALOG may be set where the user does not see it (a shell profile, a container): its errors
    name it, for every command and for `Orchestrator()`; `--catalog` still wins over it."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[[models]]\nname = "house:unpriced"\n', encoding="utf-8")
    for path in (str(tmp_path / "missing.toml"), str(bad)):
        for args in (("run", "hi"), ("models",), ("serve", "--port", "0")):
            done = cli({**env, "ORCHESTRATEX_CATALOG": path}, *args)
            assert done.returncode == 2, (args, done.stderr)
            assert done.stderr.count("\n") == 1 and "named by ORCHESTRATEX_CATALOG" in done.stderr, done.stderr
        with pytest.raises(UserError, match="named by ORCHESTRATEX_CATALOG"):
            Orchestrator(env={"ORCHESTRATEX_CATALOG": path})
    good = tmp_path / "models.toml"
    good.write_text(CATALOG, encoding="utf-8")
    done = cli({**env, "ORCHESTRATEX_CATALOG": str(bad)}, "models", "--json", "--catalog", str(good))
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("value", ['"0.001"', "true"])
def test_a_blended_price_that_is_not_a_number_is_refused_naming_file_entry_and_key(
    env: dict[str, str], tmp_path: Path, value: str
) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        f'include_default = false\n[[models]]\nname = "sim:a"\ncost_per_1k_tokens = 0\n'
        f'[[models]]\nname = "sim:b"\ncost_per_1k_tokens = {value}\n',
        encoding="utf-8",
    )
    done = cli(env, "run", "hi", "--catalog", str(path), "--provider", "sim")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1
    assert f"{path}: models[1] cost_per_1k_tokens: Input should be a valid number" in done.stderr


def test_a_one_model_catalog_fails_before_any_call_saying_how_to_add_a_judge(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "solo.toml"
    path.write_text(
        'include_default = false\n[[models]]\nname = "sim:solo"\ncost_per_1k_tokens = 0\n', encoding="utf-8"
    )
    done = cli(env, "run", "hi", "--catalog", str(path), "--provider", "sim")
    assert done.returncode == 2 and "Add a judge" in done.stderr


def test_a_catalog_whose_other_models_are_disabled_says_what_the_command_can_do(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The library's advice, `catalog.set_status(name, 'active')` or `judging="when_needed" and max_iterations=1`, was
    no option of the command: `--max-iterations 1`, as told, met the same error again."""
    path = tmp_path / "models.toml"
    path.write_text(
        'include_default = false\n[[models]]\nname = "sim:a"\ncost_per_1k_tokens = 0\n'
        '[[models]]\nname = "sim:b"\ncost_per_1k_tokens = 0\nstatus = "disabled"\n',
        encoding="utf-8",
    )
    for extra in ([], ["--max-iterations", "1"]):
        done = cli(env, "run", "hi", "--catalog", str(path), "--provider", "sim", *extra)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.endswith(
            'the catalog\'s others are disabled (sim:b). Enable one to judge (status = "active" in the catalog file), '
            "or add another model\n"
        ), done.stderr


def test_input_that_is_not_utf8_is_one_line_and_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    """Bytes that are not UTF-8 (a Latin-1 file, a binary) in the prompt, an option or standard input are refused
    before anything is stored, instead of a serialisation traceback."""
    store = tmp_path / "cli.db"
    command = [sys.executable, "-m", "orchestratex.cli"]

    def refused(args: list[bytes], stdin: bytes = b"") -> str:
        done = subprocess.run([*command, *args], input=stdin, capture_output=True, env=env, timeout=120, check=False)
        stderr = done.stderr.decode()
        assert done.returncode == 2 and stderr.count("\n") == 1 and "not valid UTF-8" in stderr, stderr
        return stderr

    assert "b'\\xffhi'" in refused([b"run", b"\xffhi"])
    refused([b"run", b"hi", b"--context", b"\xff"])
    refused([b"keys", b"create", b"\xff"])
    assert "byte 0xff at offset 0" in refused([b"run", b"-"], stdin=b"\xff hi\n")
    utf16 = refused([b"run", b"-"], stdin="Explain DNS\r\n".encode("utf-16"))  # (as PowerShell 5's `>` writes)
    assert "UTF-16's byte order mark: convert it (`iconv -f UTF-16 -t UTF-8`)" in utf16, utf16
    assert not store.exists()
    done = cli(env, "run", "-", "--json", "--max-iterations", "1", stdin="café\r\nok\n")
    assert done.returncode == 0 and json.loads(done.stdout)["prompt"] == "café\nok", done.stderr


@pytest.mark.parametrize(
    ("stdin", "said"),
    [
        ("Explain DNS\r\n".encode("utf-16-le"), "UTF-16LE without a byte order mark: convert it (`iconv -f UTF-16LE"),
        ("Explain DNS\r\n".encode("utf-16-be"), "UTF-16BE without a byte order mark: convert it (`iconv -f UTF-16BE"),
        (b"notes.txt\x00\x00\x00\x000000644\x00Explain DNS\n", "(a NUL byte at offset 9): is it a binary file?"),
    ],
)
def test_input_holding_nul_bytes_is_refused_as_not_text(
    env: dict[str, str], tmp_path: Path, stdin: bytes, said: str
) -> None:
    """UTF-16 without a byte order mark (`iconv -t UTF-16LE`, .NET's `Encoding.Unicode`) is valid UTF-8, every other
    byte a NUL: `run -` sent `E␀x␀p␀…` to the models, at twice the tokens, as it sent a tar archive of text
    files. Standard input holding a NUL is refused as not text, before anything is stored."""
    store = tmp_path / "cli.db"
    command = [sys.executable, "-m", "orchestratex.cli", "run", "-", "--store", f"sqlite:///{store}"]
    done = subprocess.run(command, input=stdin, capture_output=True, env=env, timeout=120, check=False)
    stderr = done.stderr.decode()
    assert done.returncode == 2 and stderr.count("\n") == 1, stderr
    assert (
        stderr.startswith("orchestratex: error: standard input is not text (a NUL byte at offset ") and said in stderr
    )
    assert done.stdout == b"" and not store.exists()


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ("bogus", "orchestratex: error: unknown provider 'bogus'; known: sim\n"),
        (
            "openai",
            "orchestratex: error: the catalog {path} has no openai model (its providers: sim): "
            "add openai: models to it, or name one of its providers\n",
        ),
        ("sim,openai", "--provider: 'sim' cannot be combined with other providers"),
        # (it said "one or more of the catalog's (openai,anthropic)", of a file that has neither)
        (
            ",",
            "--provider: give a provider: sim, or one or more of the catalog's, comma-separated (`orchestratex"
            " models` lists them)\n",
        ),
    ],
)
def test_provider_is_checked_against_a_catalog_file(
    env: dict[str, str], tmp_path: Path, provider: str, message: str
) -> None:
    """With `--catalog`, `--provider` names one of the file's providers (was: 'set the API key of sim')."""
    path = tmp_path / "two.toml"
    path.write_text(CATALOG, encoding="utf-8")
    done = cli(env, "run", "hi", "--catalog", str(path), "--provider", provider)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert message.format(path=path) in done.stderr
    assert not (tmp_path / "cli.db").exists()


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ("sim,openai", "argument --provider: 'sim' cannot be combined with other providers"),
        (",", "argument --provider: give a provider"),
        ("openai,bogus", "unknown provider 'bogus'; known: sim, openai, anthropic, gemini\n"),
        (
            "openai,anthropic",
            "provider 'openai' cannot be used: no key (set OPENAI_API_KEY or OPENAI_BASE_URL); "
            "provider 'anthropic' cannot be used: no key (set ANTHROPIC_API_KEY)\n",
        ),
    ],
)
def test_a_provider_list_is_refused_clearly(env: dict[str, str], provider: str, message: str) -> None:
    done = cli(env, "run", "hi", "--provider", provider)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


def test_every_provider_of_a_list_must_be_configured(env: dict[str, str]) -> None:
    """`--provider openai,anthropic` with only the OpenAI key set: not a run on OpenAI alone."""
    done = cli({**env, "OPENAI_API_KEY": "sk-test"}, "run", "hi", "--provider", "openai,anthropic")
    assert done.returncode == 2, done.stderr
    assert done.stderr == "orchestratex: error: provider 'anthropic' cannot be used: no key (set ANTHROPIC_API_KEY)\n"


def test_an_endpoint_of_a_kind_that_cannot_serve_one_is_refused_by_run_and_models(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        'include_default = false\n[providers.mine]\nkind = "anthropic"\nbase_url = "http://127.0.0.1:1"\n'
        'api_key_env = "MY_KEY"\n[[models]]\nname = "mine:m1"\ncost_per_1k_tokens = 0\n'
        '[[models]]\nname = "mine:m2"\ncost_per_1k_tokens = 0\n',
        encoding="utf-8",
    )
    for args in (("run", "hi", "--catalog", str(path)), ("models", "--catalog", str(path))):
        done = cli({**env, "MY_KEY": "k"}, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert f"{path}: providers.mine: kind 'anthropic' cannot serve a named endpoint" in done.stderr
