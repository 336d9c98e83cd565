"""`MongoStore`: the `Store` contract on MongoDB, shared safely by several server processes.

Atomicity without transactions. A session's money and event counter live in the session document
(`total_pico`, `reserved_pico`, `reservations.<orchestration id>`, `event_seq`, `commit_no`), so
reserving budget, releasing it and allocating `seq` numbers are single-document atomic updates.

A `commit` writes several documents, so it is journaled:

1. the whole step (orchestration fields, events, call records, amounts) is inserted into `commits`;
2. one atomic pipeline update of the session adds `spent`, frees what the orchestration held (up to
   `released`), takes the next `len(events)` seq numbers and the next commit stamp, and records
   `pending.<commit id>` = {seq, n, stamp}. From here on the commit has happened: it is never undone;
3. events are inserted under the unique index (session_id, seq), call records under ids fixed in the
   journal, then the orchestration is upserted only if its stored `stamp` is older. Each write is
   idempotent, so repeating it (a retry, or another process helping) changes nothing;
4. `pending.<commit id>` is removed, then the journal entry.

A crash before 2 leaves a journal entry no session refers to: nothing happened, and it is dropped
after an hour. A crash after 2 leaves `pending.<commit id>`, and the orchestration still shows its
previous state (it is written last), so it stays resumable: the step is rolled forward from the
journal by whoever meets it first — `claim` by a new owner, `list_resumable` (for orchestrations
nobody holds a lease on), `list_events` once the entry is older than `recover_after_s`, or `open()`.
Readers never see a seq gap: `list_events` returns events only below the lowest seq still pending.
With `transactions` (auto-detected on replica sets and sharded clusters), steps 2–3 run in one
multi-document transaction instead, and no journal is written.
"""

from __future__ import annotations

import asyncio
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from pymongo.asynchronous.mongo_client import AsyncMongoClient

from orchestratex.exceptions import ConfigurationError, UserError
from orchestratex.stores import fused

from ._base import now_utc
from ._codec import ago
from ._commit import Committer
from ._connection import Collections, check_database_name, handshake, make_client
from ._coordination import Coordination
from ._errors import Retrier, redact_url
from ._events import Events
from ._once import Unresolved
from ._orchestrations import Orchestrations
from ._records import Records
from ._stats import Statistics

__all__ = ["MongoStore"]

_Doc = dict[str, Any]
_DEFAULT_URL = "mongodb://localhost:27017/orchestratex"


class MongoStore(Records, Orchestrations, Events, Coordination, Statistics):
    """A `Store` on MongoDB through PyMongo's native async client (`pymongo.AsyncMongoClient`).

    Several processes may share one database: leases, budget reservations, seq numbers and counters
    are atomic in the database, and `watch_events` streams what any process commits.

    Args:
        url: `mongodb://…` or `mongodb+srv://…`; the path names the database (default `orchestratex`).
            Standard URI options (`replicaSet`, `authSource`, `w`, `serverSelectionTimeoutMS`, …) apply.
            Default: `mongodb://localhost:27017/orchestratex`, unless a `client` is given.
        database: the database name, overriding the URL's.
        client: an `AsyncMongoClient` to use instead of making one from a `url` (the store does not close it);
            not with `url` (`ConfigurationError`: the URL's servers and options would be ignored).
        server_selection_timeout_ms: how long `open()` waits for a server before failing (unless the URL sets
            `serverSelectionTimeoutMS`).
        retries: how many times an idempotent operation is retried after a transient network error.
        retry_backoff_s: the first retry's delay; it doubles each time (with jitter).
        transactions: run each commit in a multi-document transaction; default: when the deployment
            supports them (replica set or sharded cluster).
        change_streams: wake `watch_events` with a change stream; default: when the deployment supports it.
        recover_after_s: a journaled commit still pending after this long is presumed abandoned by a dead
            process and rolled forward by readers (a lease takeover rolls forward at once).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        database: str | None = None,
        client: AsyncMongoClient[_Doc] | None = None,
        server_selection_timeout_ms: int = 5000,
        retries: int = 3,
        retry_backoff_s: float = 0.1,
        transactions: bool | None = None,
        change_streams: bool | None = None,
        recover_after_s: float = 10.0,
    ) -> None:
        if url is not None and client is not None:
            raise ConfigurationError(
                f"MongoStore takes a url or a client, not both: the client was made with its own servers and options,"
                f" so those of {redact_url(url)!r} would be ignored; make the client from that URL"
                " (AsyncMongoClient(url)), and name the database with database=..."
            )
        if url is None and client is None:
            url = _DEFAULT_URL
        # (`mongodb:` alone, or `mongodb:host`, without its `//`: PyMongo said "Port contains non-digit characters")
        if url is not None and not (isinstance(url, str) and url.startswith(("mongodb://", "mongodb+srv://"))):
            raise ConfigurationError(
                f"a MongoDB store URL starts with mongodb:// or mongodb+srv://, not {redact_url(str(url))!r}"
            )
        parts = urlsplit(url or "")
        numbers = {
            "server_selection_timeout_ms": server_selection_timeout_ms,
            "retries": retries,
            "retry_backoff_s": retry_backoff_s,
            "recover_after_s": recover_after_s,
        }
        for name, value in numbers.items():  # (a str read from the environment: a raw TypeError from a comparison)
            if isinstance(value, bool) or not isinstance(value, int if name == "retries" else int | float):
                kind = "an int" if name == "retries" else "a number"
                raise UserError(f"MongoStore's {name} must be {kind}, not {type(value).__name__} ({value!r})")
        if not (server_selection_timeout_ms > 0 and recover_after_s > 0):  # (refuses NaN too)
            raise UserError(
                "server_selection_timeout_ms and recover_after_s must be > 0"
                f" (got {server_selection_timeout_ms!r}, {recover_after_s!r})"
            )
        self.url = url
        """The connection URL (use `redacted_url` in anything you print); None with an injected client."""
        if database is not None:
            check_database_name(database, "the database argument")
        path = unquote(parts.path.lstrip("/"))
        if database is None and path:
            check_database_name(path, "the URL's path, which names the database")
        self.database = database or path or "orchestratex"
        """The database holding the store's collections."""
        self.server_selection_timeout_ms = server_selection_timeout_ms
        self.transactions = transactions
        """Whether commits use transactions (`None`: decided by `open()` from the deployment)."""
        self.change_streams = change_streams
        """Whether `watch_events` uses change streams (`None`: decided by `open()`)."""
        self.recover_after_s = recover_after_s
        self._injected = client
        self._client: AsyncMongoClient[_Doc] | None = None
        self._cols: Collections | None = None
        self._committer: Committer
        self._opening = asyncio.Lock()
        self._run = Retrier(self.redacted_url, retries=retries, backoff_s=retry_backoff_s)
        self._unresolved = Unresolved()
        self._wrote = {}

    # The fast paths of the mixins, marked here, where every primitive is in place: a subclass that overrides
    # one of their primitives (`commit`, to wrap it) runs `Store`'s composed default instead and sees every call.
    start = fused(Orchestrations.start)
    commit_step = fused(Orchestrations.commit_step)
    renew_leases = fused(Coordination.renew_leases)
    cancel_requests = fused(Coordination.cancel_requests)

    @classmethod
    def from_url(cls, url: str) -> Self:
        """The store for a `mongodb://` or `mongodb+srv://` URL (what `open_store(url)` calls)."""
        return cls(url)

    def __repr__(self) -> str:
        return f"MongoStore({self.redacted_url!r}, database={self.database!r})"

    # -- lifecycle ----------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect (failing fast if no server answers), detect the deployment, create indexes, and roll
        forward commits a dead process left half-done. Idempotent."""
        async with self._opening:
            if self._cols is None:
                await self._open()

    async def _open(self) -> None:
        client = self._injected if self._injected is not None else self._make_client()
        try:
            replicated = await handshake(client, self.redacted_url, self.server_selection_timeout_ms)
            if self.transactions and not replicated:
                raise ConfigurationError(
                    f"transactions=True needs a replica set or a sharded cluster, and MongoDB at {self.redacted_url}"
                    " is a standalone server, which refuses multi-document transactions: leave `transactions` unset"
                    " (commits are then journaled) or connect to a replica set (`?replicaSet=…`)"
                )
            cols = Collections(client, self.database)
            await cols.create_indexes(self._run)
        except BaseException:
            if client is not self._injected:
                await client.close()
            raise
        if self.transactions is None:
            self.transactions = replicated
        if self.change_streams is None:
            self.change_streams = replicated
        self._client, self._cols = client, cols
        self._committer = Committer(cols, self._run, client)
        await self._committer.recover({"at": {"$lte": ago(now_utc(), self.recover_after_s)}})

    def _make_client(self) -> AsyncMongoClient[_Doc]:
        assert self.url is not None
        return make_client(self.url, server_selection_timeout_ms=self.server_selection_timeout_ms)

    async def close(self) -> None:
        client, self._client, self._cols = self._client, None, None
        if client is not None and client is not self._injected:
            await client.close()
