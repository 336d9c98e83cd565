"""The orchestratex_gemini package: its exported names, and the error when the SDK is missing."""

from __future__ import annotations

import subprocess
import sys

import orchestratex_gemini


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(orchestratex_gemini) if not name.startswith("_")} - {"annotations"}
    assert orchestratex_gemini.__all__ == sorted(orchestratex_gemini.__all__)
    assert set(orchestratex_gemini.__all__) == public


def test_missing_sdk_names_the_install_command() -> None:
    code = (
        "import sys\n"
        "sys.modules['google.genai'] = None\n"
        "try:\n"
        "    import orchestratex_gemini\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'orchestratex[gemini]'" in out.stdout
