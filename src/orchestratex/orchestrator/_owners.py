"""Lease owners: the name a process holds its runs' leases under, and whether a lease's holder is known to be gone.

A run whose process was killed (SIGKILL, an out-of-memory kill, a crash) keeps its lease until it expires
(`lease_ttl_s`, 60 s for the server): a server restarted at once on the same SQLite file saw those runs `running`
and holding their user's concurrency slots (429 "already has 10 running") for up to a minute and more, though
nothing ran them. A lease names its holder's process id and, on Linux, the machine and the process-id namespace it
ran in (a hash of the boot id and of the namespace): when that is this process's own, and no process of that id runs
now, the holder is gone for certain, and its runs may be resumed at once. Anything else (another machine, another
container, no /proc, a process id in use again) is not known to be gone: its leases expire as before.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from functools import cache

from ..stores import Store

__all__ = ["free_leases_of_the_gone", "new_owner"]


@cache
def _here() -> str:
    """This machine's boot and this process's pid namespace, hashed (8 hex digits); "" where they cannot be read."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            boot = f.read().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except (OSError, ValueError):
        return ""
    return hashlib.blake2b(f"{boot} {namespace}".encode(), digest_size=4).hexdigest()


def new_owner() -> str:
    """A lease owner unique to this process: `<pid>-<random>`, then `-<machine>` where `_here` is known."""
    here = _here()
    return f"{os.getpid()}-{uuid.uuid4().hex[:12]}" + (f"-{here}" if here else "")


def gone(owner: str, mine: str) -> bool:
    """Whether the process that holds leases as `owner` is known to have ended: it ran on this machine, in this pid
    namespace, and no process has its id now. (One with this process's id is this one: several orchestrators, each
    an owner, may run in one process, as two apps do.)"""
    pid, _, rest = owner.partition("-")
    here = _here()
    if not here or not pid.isdigit() or rest.rpartition("-")[2] != here or owner == mine:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError, ValueError):  # (alive under another user: PermissionError)
        return False
    return False


async def free_leases_of_the_gone(store: Store, mine: str) -> int:
    """Expire now the leases of unfinished runs whose holder is `gone` (`Store.expire_leases_of`: a store whose
    processes may share this machine implements it), so that this resume pass takes them up; returns how many owners
    were gone. Nothing is asked of the store where no holder can be known gone (not Linux, no /proc)."""
    if os.name != "posix" or not _here():
        return 0
    return len(await store.expire_leases_of(lambda owner: gone(owner, mine)))
