"""A prompt longer than every model's context window: `run` says so, with its size and the largest window."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

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
    assert done.stderr.startswith("orchestratex: error: standard input holds more than "), done.stderr
    assert done.stderr.endswith(" of text); pipe a shorter prompt\n"), done.stderr
    assert not os.path.exists(store_url.removeprefix("sqlite:///")), "nothing is stored"


def test_a_prompt_no_window_of_the_catalog_could_take_is_refused_before_anything_is_stored(
    store_url: str, tmp_path: Path
) -> None:
    """`run -` read up to 64 MB whatever the catalog: a prompt just under it, 16 times the largest window of the
    shipped catalog, was stored three times over (180 MB of the store for good, some 600 MB of memory) before the
    run failed as too long. It now reads at most 16 bytes a token of the catalog's largest window; a prompt nearer
    the windows still goes to the run, which says how far over it is."""
    catalog = tmp_path / "models.toml"
    catalog.write_text(
        'include_default = false\n\n[[models]]\nname = "sim:small"\ncost_per_1k_tokens = 0\ncontext_window = 4096\n\n'
        '[[models]]\nname = "sim:tiny"\ncost_per_1k_tokens = 0\ncontext_window = 2048\n',
        encoding="utf-8",
    )
    args = ["run", "-", "--catalog", str(catalog), "--store", store_url]
    refused = run_cli(*args, input="word " * 20_000)  # 100 KB: some 25,000 tokens, six times the largest window
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr == (
        "orchestratex: error: standard input holds more than 64 KB: no model's context window takes a prompt that "
        "long (the largest, sim:small's, 4,096 tokens, is some 16 KB of text); pipe a shorter prompt\n"
    )
    assert not os.path.exists(store_url.removeprefix("sqlite:///")), "nothing is stored"
    failed = run_cli(*args, input="word " * 6_000)  # 30 KB: too long too, said by the run (stored, exit 1)
    assert failed.returncode == 1, failed.stderr
    assert "the prompt is too long for every model's context window: about " in failed.stdout
    assert "and the largest, sim:small's, is 4,096 tokens" in failed.stdout
