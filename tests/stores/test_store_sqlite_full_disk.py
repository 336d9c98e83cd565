"""A SQLite database on a full disk: SQLite cannot grow the `-shm` file every connection maps, and says only
"disk I/O error", so `orchestratex runs list` (a read) failed naming no cause. The error now says the disk is full.

The disk is a small tmpfs mounted for the test (root with the right to mount; skipped elsewhere)."""

from __future__ import annotations

from pathlib import Path

from ..cli.conftest import run_cli
from ..conftest import fill_disk


def test_listing_runs_on_a_full_disk_says_the_disk_is_full_and_loses_nothing(small_disk: Path) -> None:
    url = f"sqlite:///{small_disk / 'runs.db'}"
    done = run_cli("run", "Hello", "--max-iterations", "1", "--store", url)
    assert done.returncode == 0, done.stderr
    filler = fill_disk(small_disk)

    listed = run_cli("runs", "list", "--store", url)

    assert listed.returncode == 1, listed
    assert listed.stderr.startswith(
        f"orchestratex: StoreUnavailable: cannot open SQLite database '{small_disk}/runs.db'"
    )
    assert f"the disk holding '{small_disk}' is full (0 bytes free): free some space" in listed.stderr, listed.stderr
    filler.unlink()
    listed = run_cli("runs", "list", "--store", url)
    assert listed.returncode == 0, listed.stderr
    assert "Hello" in listed.stdout


def test_a_new_database_on_a_full_disk_says_the_disk_is_full(small_disk: Path) -> None:
    fill_disk(small_disk)

    done = run_cli("run", "Hello", "--max-iterations", "1", "--store", f"sqlite:///{small_disk / 'new.db'}")

    assert done.returncode == 1, done
    assert f"the disk holding '{small_disk}' is full (0 bytes free): free some space" in done.stderr, done.stderr
