"""PyMongo's exceptions mapped to `orchestratex.exceptions` at the edge, with bounded retries.

Transient errors (`ConnectionFailure`: `AutoReconnect`, `NetworkTimeout`, `NotPrimaryError`,
`ServerSelectionTimeoutError`) are retried a bounded number of times with exponential backoff, but
only for operations that are safe to repeat (reads, and writes the store made idempotent). Every
other PyMongo error, and a transient one that outlasts the retries, becomes a `StoreError` whose
message carries the URL with its password redacted. So does a document PyMongo cannot encode
(`bson.errors.InvalidDocument`, and `DocumentTooLarge` past MongoDB's 16 MB limit), which it raises
before sending anything and which is not a `PyMongoError`. A write the server refused because its disk is full
(`OutOfDiskSpace`) is `StoreFull`, as SQLite's full disk is: retried as unavailable, answered 507 by the server.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bson.errors import BSONError
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DocumentTooLarge,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)

from orchestratex._shown import shown_url
from orchestratex.exceptions import StoreError, StoreFull, StoreUnavailable, UserError

__all__ = ["Retrier", "is_duplicate_only", "redact_url"]

_T = TypeVar("_T")
_DUPLICATE_KEY = 11000
_OUT_OF_DISK_SPACE = 14031
"""The server's `OutOfDiskSpace`: a write refused because the disk holding its data files is full."""


def redact_url(url: str) -> str:
    """`url` with the password replaced by `***` (`mongodb://user:***@host/db`), also within a longer text (a
    driver's error quoting it): the core's one redaction of URLs."""
    return shown_url(url)


def _out_of_disk_space(exc: OperationFailure) -> bool:
    """Whether the server refused the write because its disk is full (a bulk write's errors, one by one, too)."""
    if exc.code == _OUT_OF_DISK_SPACE:
        return True
    details = exc.details if isinstance(exc.details, dict) else {}
    errors = [*details.get("writeErrors", []), *details.get("writeConcernErrors", [])]
    return any(isinstance(e, dict) and e.get("code") == _OUT_OF_DISK_SPACE for e in errors)


def is_duplicate_only(exc: BulkWriteError) -> bool:
    """Whether every write error of a bulk insert is a duplicate key (the documents were already there)."""
    errors: list[dict[str, Any]] = exc.details.get("writeErrors", [])
    return (
        bool(errors)
        and all(e.get("code") == _DUPLICATE_KEY for e in errors)
        and not exc.details.get("writeConcernErrors")
    )


class Retrier:
    """Runs one database operation: retries transient failures of idempotent ones, maps errors to `StoreError`."""

    def __init__(self, where: str, *, retries: int, backoff_s: float) -> None:
        if not (retries >= 0 and 0 <= backoff_s < math.inf):  # (refuses NaN too)
            raise UserError(
                f"retries must be >= 0 and retry_backoff_s a finite number >= 0 (got {retries!r}, {backoff_s!r})"
            )
        self.where = where
        """The redacted URL (or a description of an injected client), for messages."""
        self.retries = retries
        self.backoff_s = backoff_s
        self.full = False
        """Set when the server refused a write because its disk is full (`StoreFull`): the store's `ping` then writes
        to see whether there is room again, and clears it once there is."""

    async def __call__(self, what: str, op: Callable[[], Awaitable[_T]], *, idempotent: bool = True) -> _T:
        attempt = 0
        while True:
            try:
                return await op()
            except DuplicateKeyError:
                raise  # the caller decides what a duplicate means (Conflict, or already written)
            except ConnectionFailure as exc:
                attempt += 1
                if not idempotent or attempt > self.retries:
                    tried = f" after {attempt} attempts" if idempotent and attempt > 1 else ""
                    raise StoreUnavailable(
                        f"MongoDB at {self.where} is unavailable ({what} failed{tried}): {redact_url(str(exc))}"
                    ) from exc
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))
            except DocumentTooLarge as exc:
                raise StoreError(
                    f"MongoDB at {self.where}: {what} failed: {exc} (MongoDB stores at most 16 MB per document: an"
                    " orchestration with its messages and iterations, and a commit's journal entry, which holds the"
                    " orchestration with the step's events)"
                ) from exc
            except OperationFailure as exc:
                if not _out_of_disk_space(exc):
                    raise StoreError(f"MongoDB at {self.where}: {what} failed: {redact_url(str(exc))}") from exc
                self.full = True
                raise StoreFull(
                    f"MongoDB at {self.where}: {what} failed: the server's disk is full (OutOfDiskSpace): free some"
                    " space on the disk holding its data files"
                ) from exc
            except (PyMongoError, BSONError) as exc:
                raise StoreError(f"MongoDB at {self.where}: {what} failed: {redact_url(str(exc))}") from exc
