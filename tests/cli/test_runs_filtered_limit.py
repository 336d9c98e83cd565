"""`runs list --status S` (or `--user U`) that shows `--limit` orchestrations says on stderr when older ones may pass
the filter too: it showed as many as the limit and said nothing, which read as every one there was."""

from __future__ import annotations

import json

from .conftest import run_cli


def test_a_filtered_list_at_its_limit_says_older_ones_may_pass(store_url: str) -> None:
    for _ in range(3):
        assert run_cli("run", "Hello", "--max-iterations", "1", "--json", "--store", store_url).returncode == 0
    cut = run_cli("runs", "list", "--status", "completed", "--limit", "2", "--store", store_url)
    assert cut.returncode == 0 and len(cut.stdout.splitlines()) == 3  # the header and two runs
    assert cut.stderr.splitlines() == [
        "orchestratex: the 2 most recent orchestrations with status completed (of 3 in the store); older ones may "
        "pass too: --limit N shows more, --limit 0 all of them"
    ]
    as_json = run_cli("runs", "list", "--status", "completed", "--limit", "2", "--json", "--store", store_url)
    assert len(json.loads(as_json.stdout)) == 2 and as_json.stderr == cut.stderr
    # every one that passes shown: nothing to say
    for args in (["--limit", "3"], ["--limit", "0"], ["--limit", "5"]):
        whole = run_cli("runs", "list", "--status", "completed", *args, "--store", store_url)
        assert whole.returncode == 0 and whole.stderr == "" and len(whole.stdout.splitlines()) == 4
    assert run_cli("runs", "list", "--status", "failed", "--store", store_url).stderr.startswith(
        "orchestratex: no orchestrations with status failed in "
    )


def test_a_list_of_one_says_the_most_recent_orchestration(store_url: str) -> None:
    """`--limit 1` said "the 1 most recent orchestrations"."""
    for _ in range(2):
        assert run_cli("run", "Hello", "--max-iterations", "1", "--json", "--store", store_url).returncode == 0
    one = run_cli("runs", "list", "--status", "completed", "--limit", "1", "--store", store_url)
    assert one.returncode == 0 and one.stderr.splitlines() == [
        "orchestratex: the most recent orchestration with status completed (of 2 in the store); older ones may "
        "pass too: --limit N shows more, --limit 0 all of them"
    ]
    unfiltered = run_cli("runs", "list", "--limit", "1", "--store", store_url)
    assert unfiltered.stderr.splitlines() == [
        "orchestratex: the most recent of 2 orchestrations; --limit N shows more, --limit 0 all of them"
    ]
