"""`orchestratex run --domain`: a built-in domain in any case, a name of one's own as given, a misspelt built-in
domain refused in one line naming it, and the option."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import PROMPT, cli_env, run_cli


@pytest.mark.parametrize(("given", "kept"), [("CODING", "coding"), ("facts", "facts")])
def test_the_domain_is_read_as_the_library_reads_it(given: str, kept: str) -> None:
    proc = run_cli("run", PROMPT, "--domain", given, "--max-iterations", "1")
    assert proc.returncode == 0, proc.stderr
    assert f"domain {kept} " in proc.stdout and f"best value for {kept} " in proc.stdout


def test_a_misspelt_domain_is_one_line_naming_the_one_meant() -> None:
    proc = run_cli("run", PROMPT, "--domain", "codeing", "--max-iterations", "1")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "orchestratex run: error: argument --domain: 'codeing' looks like 'coding' misspelt: write 'coding' (the"
        " built-in domains are coding, math, science, writing, analysis, general; a domain of your own must not be one"
        " typo away from one of them)"
    ]


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_domain_names_the_option(blank: str, tmp_path: Path) -> None:
    """`--domain "$DOMAIN"` with DOMAIN unset said "domain is empty: … or leave it unset": no option of that name."""
    store = tmp_path / "runs.db"
    proc = run_cli("run", PROMPT, "--domain", blank, env=cli_env(ORCHESTRATEX_STORE_URL=f"sqlite:///{store}"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "orchestratex run: error: argument --domain: is empty: give a domain (coding, math, science, writing, analysis,"
        " general, or a name of your own), or leave the option out to detect it from the prompt"
    ]
    assert not store.exists()
