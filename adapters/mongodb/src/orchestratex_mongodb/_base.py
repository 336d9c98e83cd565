"""What the parts of `MongoStore` share: the state the store sets up (in `__init__` and `open`), and the
small reads and writes the parts are made of, each retried by the store's `Retrier`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from orchestratex.exceptions import Conflict
from orchestratex.stores import Store

from ._codec import doc_id
from ._commit import Committer
from ._connection import ORDER, Collections
from ._errors import Retrier, redact_url
from ._once import Unresolved

__all__ = ["CAS_ATTEMPTS", "RESUMABLE", "MongoBase", "expires_in", "now_utc"]

_Doc = dict[str, Any]
_Coll = AsyncCollection[_Doc]
RESUMABLE = ["pending", "running"]
"""The statuses of an orchestration that may still run (and be resumed)."""
CAS_ATTEMPTS = 50
"""How many times a compare-and-set loop reads again and retries before giving up."""


def now_utc() -> datetime:
    return datetime.now(UTC)


NEVER = datetime.max.replace(tzinfo=UTC)
"""The expiry of a lease or counter whose `ttl_s` reaches past year 9999 (or is infinite)."""


def expires_in(now: datetime, ttl_s: float) -> datetime:
    """`now + ttl_s` seconds, or `NEVER` when that is past what a datetime holds (a `ttl_s` of 1e12 or `inf`,
    which the other stores accept: it raised a raw `OverflowError`)."""
    try:
        return now + timedelta(seconds=ttl_s)
    except OverflowError:
        return NEVER


_HELD_WRITES = 65_536
"""At most this many runs' last writes are remembered (as many as SQLite's store remembers leased runs)."""


class MongoBase(Store):
    """The base of each part of `MongoStore` (records, orchestrations, events, coordination, statistics):
    the attributes `MongoStore` sets, the open collections, and the helpers every part uses."""

    url: str | None
    transactions: bool | None
    change_streams: bool | None
    recover_after_s: float
    _cols: Collections | None
    _committer: Committer
    _run: Retrier
    _unresolved: Unresolved
    _wrote: dict[str, str]
    """The `updated_at` this process last committed of each run under a lease it has held since (see
    `Orchestrations.commit`): a run another process wrote meanwhile was taken over while its lease had lapsed."""

    def _held_write(self, orchestration_id: str, updated_at: str | None) -> None:
        """Remember (`updated_at`) or forget (None) what this process last committed of a run under its lease."""
        wrote = self._wrote
        wrote.pop(orchestration_id, None)
        if updated_at is not None:
            wrote[orchestration_id] = updated_at
            if len(wrote) > _HELD_WRITES:  # (a run whose lease was never released: the oldest goes, unchecked)
                del wrote[next(iter(wrote))]

    @property
    def redacted_url(self) -> str:
        """`url` with its password replaced by `***` (for an injected client: a description of it)."""
        return redact_url(self.url) if self.url is not None else "an injected client"

    @property
    def _c(self) -> Collections:
        if self._cols is None:
            raise self._not_open()
        return self._cols

    # -- small helpers ------------------------------------------------------------------------
    async def _find(self, what: str, coll: _Coll, query: _Doc, *, limit: int, skip: int = 0) -> list[_Doc]:
        if limit == 0:
            return []

        async def read() -> list[_Doc]:
            return await coll.find(query).sort(ORDER).skip(skip).limit(limit).to_list(limit)

        return await self._run(what, read)

    async def _one(self, what: str, coll: _Coll, query: _Doc, projection: _Doc | None = None) -> _Doc | None:
        return await self._run(what, lambda: coll.find_one(query, projection))

    async def _exists(self, coll: _Coll, record_id: str) -> bool:
        return await self._one(f"looking up {record_id!r}", coll, {"_id": doc_id(record_id)}, {"_id": 1}) is not None

    async def _insert(self, kind: str, coll: _Coll, doc: _Doc, *, same: Sequence[str] = ()) -> bool:
        """Insert `doc`; whether it was inserted now. With `same`, a document already there whose `same` fields
        equal `doc`'s is taken for this one, written by an earlier attempt of the same call (False), not a
        `Conflict`: so the insert is retried after a network error. Without `same` it is not (after a lost reply
        the retry would answer `Conflict` for our own insert; the driver's retryable writes repeat it exactly
        once where the deployment supports them)."""
        try:
            await self._run(f"inserting the {kind}", lambda: coll.insert_one(doc), idempotent=bool(same))
        except DuplicateKeyError as exc:
            if same:
                there = await self._one(f"reading the {kind}", coll, {"_id": doc["_id"]})
                if there is not None and all(there.get(name) == doc[name] for name in same):
                    return False
            raise Conflict(f"{kind} {str(doc['_id'])!r} already exists") from exc
        return True

    async def _count(self, coll: _Coll, query: _Doc) -> int:
        return await self._run("counting", lambda: coll.count_documents(query))
