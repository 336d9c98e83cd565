"""A prompt longer than every model's context window: `run` says so, with its size and the largest window."""

from __future__ import annotations

import re

from .conftest import run_cli


def test_a_5_mb_prompt_is_said_to_be_too_long(store_url: str) -> None:
    prompt = "word " * 1_000_000  # 5 MB piped in: about 1.25 million tokens
    done = run_cli("run", "-", "--store", store_url, input=prompt)
    assert done.returncode == 1, done.stderr
    [failed] = [line for line in done.stdout.splitlines() if line.startswith("✘")]
    said = re.search(
        r"the prompt is too long for every model's context window: about ([\d,]+) tokens, and "
        r"the largest, (\S+)'s, is ([\d,]+) tokens; shorten the prompt",
        failed,
    )
    assert said is not None, failed
    assert int(said[1].replace(",", "")) > int(said[3].replace(",", "")) >= 1_000_000
    assert "is too small" not in failed
