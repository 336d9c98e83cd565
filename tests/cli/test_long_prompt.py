"""A prompt longer than every model's context window: `run` says so, with its size and the largest window."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from .conftest import CLI, cli_env, run_cli


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


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_endless_standard_input_is_refused_before_anything_is_stored(store_url: str) -> None:
    """`orchestratex run - < /dev/zero` (or `yes | orchestratex run -`, a 2 GB log piped by mistake) read until
    memory ran out: `run -` reads at most 64 MB, more than any model's context window takes."""
    with open("/dev/zero", "rb") as endless:
        done = subprocess.run(
            [*CLI, "run", "-", "--store", store_url],
            stdin=endless,
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=120,
            check=False,
        )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        "orchestratex: error: standard input holds more than 64 MB: no model's context window takes a prompt that "
        "long (the largest, 10 million tokens, is some 40 MB of text); pipe a shorter prompt\n"
    )
    assert not os.path.exists(store_url.removeprefix("sqlite:///")), "nothing is stored"
