"""A server whose SQLite database's file system turns read-only under it (ext4 `errors=remount-ro` after an I/O error,
as a failing disk does): every write failed (503 "the database is unavailable … retry in 1 s"), while `/health/ready`
kept answering 200, since the store still answered reads, so the load balancer kept sending it runs that could not be
stored. A write that failed so now makes readiness 503 until the store can write again (the probe writes then, and
only then: a probe of a ready store writes nothing).

The file system is a small ext4 image on a loop device, turned read-only with its `trigger_fs_error` switch (root with
the right to mount, `mkfs.ext4` and loop devices; skipped elsewhere); one that recovers is the database's WAL made
immutable (`chattr +i`, which fails its writes as a read-only file system does), then writable again."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..stores.test_store_sqlite_read_only import read_only
from .conftest import FAST
from .server_process import ServerProcess, create_key


@pytest.fixture
def ext4_disk(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A folder on an ext4 file system of its own mounted `errors=remount-ro`, and its `trigger_fs_error` switch."""
    mkfs, mount, umount = shutil.which("mkfs.ext4"), shutil.which("mount"), shutil.which("umount")
    if os.geteuid() != 0 or mkfs is None or mount is None or umount is None:
        pytest.skip("an ext4 image on a loop device needs root, mkfs.ext4 and mount(8)")
    image, folder = tmp_path / "disk.img", tmp_path / "disk"
    folder.mkdir()
    with image.open("wb") as f:
        f.truncate(16 * 1024 * 1024)
    subprocess.run([mkfs, "-q", "-F", str(image)], check=True, capture_output=True)
    made = subprocess.run([mount, "-o", "loop,errors=remount-ro", str(image), str(folder)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount an ext4 image here: {made.stderr.decode(errors='replace').strip()}")
    try:
        device = os.stat(folder).st_dev  # (its loop device, as /sys/fs/ext4 names it: loop0)
        name = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}").resolve().name
        switch = Path("/sys/fs/ext4") / name / "trigger_fs_error"
        if not switch.exists():
            pytest.skip(f"this kernel has no {switch}")
        yield folder, switch
    finally:
        subprocess.run([umount, "-l", str(folder)], check=True)


def test_readiness_answers_503_once_a_write_failed_on_a_read_only_file_system(
    ext4_disk: tuple[Path, Path], tmp_path: Path
) -> None:
    folder, switch = ext4_disk
    url = f"sqlite:///{folder / 'server.db'}"
    headers = {"Authorization": f"Bearer {create_key(url, 'alice')}"}
    with ServerProcess(url, tmp_path, env=FAST) as server:
        assert httpx.get(f"{server.base_url}/health/ready").json() == {"status": "ready", "store": "ok"}
        switch.write_text("test\n")  # (the file system is read-only from now on: every write fails)

        refused = httpx.post(f"{server.base_url}/api/sessions/", json={}, headers=headers)
        assert refused.status_code == 503, refused.text
        for _ in range(2):  # (each probe, not only the first after the failure)
            not_ready = httpx.get(f"{server.base_url}/health/ready")
            assert not_ready.status_code == 503, not_ready.text
            assert not_ready.json()["store"] == "unreachable"
            assert not_ready.json()["detail"].startswith(
                "not ready: the store is unreachable: the SQLite database '<path>' cannot be written"
                " (SQLITE_IOERR_WRITE"
            ), not_ready.text
        assert str(folder) not in not_ready.text
        assert httpx.get(f"{server.base_url}/health").status_code == 200  # (alive: its reads still work)
        log = server.log()
        assert log.count("not ready: the store is unreachable: the SQLite database") == 1, log


def test_readiness_answers_503_while_writes_fail_and_200_once_they_work_again(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    url = f"sqlite:///{db}"
    headers = {"Authorization": f"Bearer {create_key(url, 'alice')}"}
    with ServerProcess(url, tmp_path, env=FAST) as server:
        assert httpx.post(f"{server.base_url}/api/sessions/", json={}, headers=headers).status_code == 201
        with read_only(Path(f"{db}-wal")):
            assert httpx.post(f"{server.base_url}/api/sessions/", json={}, headers=headers).status_code == 503
            not_ready = httpx.get(f"{server.base_url}/health/ready")
            assert not_ready.status_code == 503, not_ready.text
            assert "the SQLite database '<path>' cannot be written (SQLITE_IOERR_WRITE" in not_ready.text

        assert httpx.get(f"{server.base_url}/health/ready").json() == {"status": "ready", "store": "ok"}
        assert httpx.post(f"{server.base_url}/api/sessions/", json={}, headers=headers).status_code == 201
        assert len(httpx.get(f"{server.base_url}/api/sessions/", headers=headers).json()) == 2
        log = server.log()
        assert "ready again: the store answers" in log, log
