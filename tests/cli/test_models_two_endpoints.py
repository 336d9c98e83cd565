"""One model served by two endpoints of a catalog file (`laptop:llama3.2` and `gpu:llama3.2`): its bare model id names
both, so `--models llama3.2` is ambiguous, and the error says so and names them (it asked "did you mean 'llama3.2'?"
of 'llama3.2' itself, and named neither)."""

from __future__ import annotations

from pathlib import Path

from .conftest import cli_env, run_cli

FILE = """include_default = false

[providers.laptop]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"

[providers.gpu]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"

[[models]]
name = "laptop:llama3.2"
input_cost_per_1k = 0
output_cost_per_1k = 0

[[models]]
name = "gpu:llama3.2"
input_cost_per_1k = 0
output_cost_per_1k = 0

[[models]]
name = "gpu:qwen3"
input_cost_per_1k = 0
output_cost_per_1k = 0
"""


def test_a_bare_model_id_of_two_endpoints_is_ambiguous_and_names_them(tmp_path: Path) -> None:
    (tmp_path / "models.toml").write_text(FILE)
    proc = run_cli(
        "run", "Hello", "--models", "llama3.2", "--catalog", "models.toml", "--store", "memory://",
        cwd=tmp_path, env=cli_env(),
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        "orchestratex: error: model 'llama3.2' is ambiguous: it is the model id of 2 models of the catalog "
        "(gpu:llama3.2, laptop:llama3.2); name one in full"
    )
    assert "did you mean" not in proc.stderr
