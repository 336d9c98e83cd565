"""Shell blocks in the README and docs that start `orchestratex serve` and then talk to it run the server in the
background: followed literally, a foreground server never lets the next line (the `curl` to it) run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_BLOCK = re.compile(r"```(?:bash|sh|shell|console)\n(.*?)```", re.DOTALL)


def _commands(block: str) -> list[str]:
    """The block's commands without their comments (a line ending in `\\` continues the command)."""
    commands, current = [], ""
    for line in block.splitlines():
        current += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            command = re.sub(r"\s+#.*$", "", current).strip()
            if command:
                commands.append(command)
            current = ""
    return commands


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_server_started_before_more_commands_runs_in_the_background(page: Path) -> None:
    """The README started `orchestratex serve --port 8000` and then sent `curl … /api/sessions/`: pasted as it was,
    the server held the shell and the request was never sent."""
    for block in _BLOCK.findall(page.read_text(encoding="utf-8")):
        commands = _commands(block)
        for i, command in enumerate(commands[:-1]):
            if re.match(r"(\S+=\S+\s+)*orchestratex serve\b", command):
                assert command.endswith("&"), f"{page.name}: `{command}` is followed by {commands[i + 1]!r}"
