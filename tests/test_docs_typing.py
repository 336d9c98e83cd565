"""The README's and the library pages' Python examples type-check under `mypy --strict` as they are, so a user who
copies one into a project checked that way gets no error from it (the examples are run by test_docs_examples)."""

from __future__ import annotations

import re
from pathlib import Path

from .helpers import mypy_strict

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", "docs/orchestrator.md", "docs/testing.md", "docs/catalog.md", "docs/events.md", "docs/errors.md"]
PAGES += ["docs/evaluation.md", "docs/index.md", "docs/routing.md", "docs/stores.md", "docs/stores-mongodb.md"]
PAGES += ["docs/operate.md", "docs/performance.md", "docs/server.md"]
# (not docs/openai-compatible.md nor docs/providers/: checking the openai, anthropic and google-genai SDKs' types their
# examples use tripled the check's time, to a minute)
BLOCK = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)```", re.DOTALL)


def _programs(tmp_path: Path) -> list[Path]:
    """Each page's runnable block that is a program of its own (it imports what it uses; a signature shown alone is
    not), written to a module of its own."""
    written = []
    for page in PAGES:
        text = "\n" + (ROOT / page).read_text(encoding="utf-8")
        for i, match in enumerate(BLOCK.finditer(text)):
            code = match.group("code")
            if "not-run" in match.group("before") or "import " not in code:
                continue
            name = re.sub(r"\W", "_", f"{Path(page).stem}_{i + 1}")
            path = tmp_path / f"{name}.py"
            path.write_text(code, encoding="utf-8")
            written.append(path)
    return written


def test_the_library_pages_examples_pass_mypy_strict(tmp_path: Path) -> None:
    # docs/evaluation.md read `result.orchestration.iterations[0].evaluation.probability` (and `.judge_models`):
    # `Iteration.evaluation` is `Evaluation | None`, so mypy --strict refused the copied example ("Item None of
    # Evaluation | None has no attribute probability"); docs/server.md called `client.portal.call(...)` of a
    # `TestClient`, whose `portal` is `BlockingPortal | None` ("Item None ... has no attribute call")
    programs = _programs(tmp_path)
    assert len(programs) > 20
    out, err, status = mypy_strict(*programs, cache_dir=tmp_path / ".mypy_cache")  # (this tree's package)
    assert status == 0, out + err
