"""ObjectId-compatible ids (24 hex digits: 4-byte time, 5 random bytes, 3-byte counter) and UTC clocks."""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

__all__ = ["epoch_seconds", "forks", "is_object_id", "new_id", "utcnow"]

_RANDOM = os.urandom(5)
_COUNTER = itertools.count(int.from_bytes(os.urandom(3), "big"))
_HEX24 = re.compile(r"[0-9a-f]{24}")
_FORKS = 0


def _forked() -> None:
    """In a forked child: never share the random part with the parent (rather than asking the pid at every id)."""
    global _RANDOM, _FORKS
    _RANDOM = os.urandom(5)
    _FORKS += 1


def forks() -> int:
    """How many `os.fork()`s made this process from the one that imported this module: what was started before a
    fork (an event loop's thread, a database connection) is the parent's, of no use in the child, when this differs."""
    return _FORKS


if hasattr(os, "register_at_fork"):  # (no fork on Windows)
    os.register_at_fork(after_in_child=_forked)


def new_id() -> str:
    """A new id in MongoDB ObjectId format, unique across processes and sortable by creation time."""
    counter = next(_COUNTER) & 0xFFFFFF
    return (int(time.time()).to_bytes(4, "big") + _RANDOM + counter.to_bytes(3, "big")).hex()


def is_object_id(value: str) -> bool:
    return bool(_HEX24.fullmatch(value))


utcnow: Callable[[], datetime] = partial(datetime.now, UTC)
"""The current time in UTC. (A partial rather than a function: no Python frame for each of the dozen records and
events a run stamps.)"""


def epoch_seconds(moment: datetime) -> float:
    """Seconds since the epoch of `moment`, a naive datetime taken as UTC (as `stores.checks.created_order` and
    MongoDB take it), not as local time, which `datetime.timestamp` assumes: the stores' sort key of `created_at`."""
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


def in_utc(moment: datetime) -> datetime:
    """`moment` in UTC, to be shown as UTC: an aware one converted (a record imported with its `+09:00`), a naive
    one taken as UTC (as `epoch_seconds`)."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
