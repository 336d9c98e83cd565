"""`%pip install` of an adapter in a Jupyter kernel that has already made an `Orchestrator`: the next `Orchestrator()`
finds the adapter installed since, without a restart (skipped without nbclient and ipykernel)."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import pytest

from .kernel_cells import run_cells

ADAPTER = """
from orchestratex import Generation, Provider, Usage


class AcmeProvider(Provider):
    name = "acme"
    env_vars = ("ACME_API_KEY",)

    @classmethod
    def from_env(cls, env=None):
        return cls()

    async def generate(self, request):
        return Generation(text="Acme says hello", usage=Usage(input_tokens=3, output_tokens=3))
"""

CATALOG = """
include_default = false

[[models]]
name = "acme:m1"
input_cost_per_1k = 0.001
output_cost_per_1k = 0.002
"""


def build_wheel(folder: Path) -> Path:
    """A wheel of an adapter registering the `acme` provider, as `pip wheel` would build it."""
    info = "acme_adapter-1.0.dist-info"
    files = {
        "acme_adapter.py": ADAPTER,
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: acme-adapter\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": "[orchestratex.providers]\nacme = acme_adapter:AcmeProvider\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = folder / "acme_adapter-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return wheel


def test_an_adapter_pip_installed_in_the_kernel_is_found_by_the_next_orchestrator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The installed providers were scanned once per process: after `%pip install` of the adapter (its key set),
    `Orchestrator()` still simulated, as before the install, until the kernel restarted."""
    wheel = build_wheel(tmp_path)
    packages = tmp_path / "site-packages"  # the kernel's site-packages, where pip installs
    packages.mkdir()
    (tmp_path / "models.toml").write_text(CATALOG)
    monkeypatch.setenv("ACME_API_KEY", "acme-test")
    cells = run_cells(
        [
            f"""
import sys
sys.path.append({str(packages)!r})
from orchestratex import Orchestrator
before = Orchestrator(catalog="models.toml")
print("before:", list(before.providers), before.simulated)
""",
            f"%pip install --quiet --no-index --no-deps --target {packages} {wheel}",
            """
after = Orchestrator(catalog="models.toml", judging="when_needed")
print("after:", list(after.providers), after.simulated)
print("answer:", after.run_sync("Hello", max_iterations=1).final_response)
""",
        ],
        tmp_path,
        monkeypatch,
    )
    assert "before: ['sim'] True" in cells[0].text, cells[0].text
    assert not cells[1].errors, cells[1].text
    assert "after: ['acme'] False" in cells[2].text, cells[2].text
    assert "answer: Acme says hello" in cells[2].text, cells[2].text
