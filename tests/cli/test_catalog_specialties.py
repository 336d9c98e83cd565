"""`--catalog` with specialties written in another case: read as the built-in domains, or refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import run_cli

FREE = 'include_default = false\n[[models]]\nname = "sim:a"\ninput_cost_per_1k = 0\noutput_cost_per_1k = 0\n'


def test_specialties_in_capitals_are_the_built_in_domains(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(f'{FREE}specialties = ["CODING", "Math"]\n')
    done = run_cli("models", "--catalog", str(path), "--json")
    assert done.returncode == 0, done.stderr
    [model] = json.loads(done.stdout)["models"]
    assert model["specialties"] == ["coding", "math"]


def test_a_misspelt_specialty_exits_2_saying_what_to_write(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(f'{FREE}specialties = ["codeing"]\n')
    done = run_cli("models", "--catalog", str(path))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"orchestratex: error: {path}: models[0] specialties: unknown domain 'codeing': it looks like 'coding'"
        " misspelt: write 'coding' (specialties are among coding, math, science, writing, analysis, general)"
    ]
