"""A catalog file's price past any model's — a slip of the exponent, `1e20` — ended `run`, `models` and `serve` with a
traceback (`decimal.InvalidOperation`, from working out the model's blended price), or, as a cached input price, was
taken: it is refused in one line naming the field, as a negative price is."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_cli

_OTHER = '[[models]]\nname = "openai:b"\ninput_cost_per_1k = 0.001\noutput_cost_per_1k = 0.002\n'


@pytest.mark.parametrize(
    ("prices", "field"),
    [
        ("input_cost_per_1k = 1e20\noutput_cost_per_1k = 0.002", "input_cost_per_1k"),
        ("input_cost_per_1k = 0.001\noutput_cost_per_1k = 25000000000000000000", "output_cost_per_1k"),
        ("input_cost_per_1k = 0.001\noutput_cost_per_1k = 0.002\ncached_input_cost_per_1k = 1e300", "cached_input"),
        ("cost_per_1k_tokens = 1e20", "input_cost_per_1k"),
    ],
)
@pytest.mark.parametrize("command", [["models"], ["run", "Hello", "--provider", "sim", "--store", "memory://"]])
def test_a_price_past_any_models_is_refused_in_one_line(
    tmp_path: Path, prices: str, field: str, command: list[str]
) -> None:
    path = tmp_path / "models.toml"
    path.write_text(f'include_default = false\n[[models]]\nname = "openai:a"\n{prices}\n{_OTHER}')
    done = run_cli(*command, "--catalog", str(path))
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"orchestratex: error: {path}: models[0] {field}"), line
    assert line.endswith("Input should be less than or equal to 1000000"), line
