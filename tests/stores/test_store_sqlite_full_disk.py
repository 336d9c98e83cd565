"""A SQLite database on a full disk: SQLite cannot grow the `-shm` file every connection maps, and says only
"disk I/O error", so `orchestratex runs list` (a read) failed naming no cause. The error now says the disk is full.

The disk is a small tmpfs mounted for the test (root with the right to mount; skipped elsewhere)."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..cli.conftest import run_cli


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a file system of its own of 2 MiB (a tmpfs)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if os.geteuid() != 0 or mount is None or umount is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    made = subprocess.run([mount, "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode(errors='replace').strip()}")
    try:
        yield folder
    finally:
        subprocess.run([umount, "-l", str(folder)], check=True)


def _fill(folder: Path) -> Path:
    """A file taking every byte left on `folder`'s file system."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler


def test_listing_runs_on_a_full_disk_says_the_disk_is_full_and_loses_nothing(small_disk: Path) -> None:
    url = f"sqlite:///{small_disk / 'runs.db'}"
    done = run_cli("run", "Hello", "--max-iterations", "1", "--store", url)
    assert done.returncode == 0, done.stderr
    filler = _fill(small_disk)

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
    _fill(small_disk)

    done = run_cli("run", "Hello", "--max-iterations", "1", "--store", f"sqlite:///{small_disk / 'new.db'}")

    assert done.returncode == 1, done
    assert f"the disk holding '{small_disk}' is full (0 bytes free): free some space" in done.stderr, done.stderr
