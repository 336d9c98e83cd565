"""The orchestratex_openai package: its exported names, and the error when the SDK is missing."""

from __future__ import annotations

import subprocess
import sys

import orchestratex_openai


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(orchestratex_openai) if not name.startswith("_")} - {"annotations"}
    assert orchestratex_openai.__all__ == sorted(orchestratex_openai.__all__)
    assert set(orchestratex_openai.__all__) == public


def test_missing_sdk_names_the_install_command() -> None:
    code = (
        "import sys\n"
        "sys.modules['openai'] = None\n"
        "try:\n"
        "    import orchestratex_openai\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'orchestratex[openai]'" in out.stdout
