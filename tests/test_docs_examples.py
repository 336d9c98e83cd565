"""Every Python example in the README and docs runs, so none can go stale.

A block preceded by a line `<!-- not-run: reason -->` is skipped (e.g. it needs a real API key or
a running MongoDB); everything else is executed with simulated models and no latency.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)```", re.DOTALL)


def _blocks() -> list[tuple[str, str]]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = "\n" + path.read_text(encoding="utf-8")
        for i, match in enumerate(BLOCK.finditer(text)):
            if "not-run" in match.group("before"):
                continue
            found.append((f"{path.relative_to(ROOT)}#{i + 1}", match.group("code")))
    return found


@pytest.mark.parametrize(("where", "code"), _blocks(), ids=[w for w, _ in _blocks()])
def test_doc_example_runs(where: str, code: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, where, "exec"), {"__name__": "__docs__"})


@pytest.mark.parametrize("script", sorted((ROOT / "examples").glob("*.py")), ids=lambda p: p.name)
def test_example_script_runs(script: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    monkeypatch.chdir(tmp_path)
    exec(compile(script.read_text(encoding="utf-8"), str(script), "exec"), {"__name__": "__main__"})
