"""An in-process stand-in for PyMongo's async API: mongomock behind a thin async facade (tests only).

It exposes exactly the subset of `AsyncMongoClient` / `AsyncDatabase` / `AsyncCollection` that
`MongoStore` uses. Every operation first yields to the event loop, as real I/O would, so concurrent
tasks interleave between operations (each single operation stays atomic, as on a server). It behaves
like a *standalone* server: `hello` reports no replica set, `watch` fails as a standalone server does,
and there are no transactions. Inserting a document over 16 MB raises `DocumentTooLarge`, as PyMongo
does before sending it. Write concerns are accepted and ignored. Those paths are covered only
by the real-server tests (`test_mongodb_real_server.py`).

`client.faults` injects failures: `fail("events", "insert_many", error)` raises `error` on the next call,
before the operation (`after=True`: after it was applied, like a reply lost on the network; `skip=n`:
on the call after the next `n`; `where=`: only on calls whose arguments it accepts).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import bson
import mongomock
import pytest
from mongomock.collection import Cursor as MockCursor
from pymongo.errors import DocumentTooLarge, OperationFailure

MAX_BSON_SIZE = 16 * 1024 * 1024
"""A server's `maxBsonObjectSize`: PyMongo refuses to send a larger document (`DocumentTooLarge`)."""


@dataclass
class _Fault:
    collection: str
    method: str
    error: BaseException
    times: int
    after: bool
    skip: int
    where: Callable[..., bool] | None


@dataclass
class Faults:
    """Failures to inject into the next calls of given collection methods."""

    pending: list[_Fault] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    """How many times each `collection.method` was called."""

    def fail(
        self,
        collection: str,
        method: str,
        error: BaseException,
        *,
        times: int = 1,
        after: bool = False,
        skip: int = 0,
        where: Callable[..., bool] | None = None,
    ) -> None:
        """Raise `error` on `times` calls of `collection.method` (those `where(*args, **kwargs)` accepts, if given),
        after letting the next `skip` such calls through."""
        self.pending.append(_Fault(collection, method, error, times, after, skip, where))

    def take(self, collection: str, method: str, *args: Any, **kwargs: Any) -> _Fault | None:
        key = f"{collection}.{method}"
        self.calls[key] = self.calls.get(key, 0) + 1
        for fault in self.pending:
            if fault.collection == collection and fault.method == method:
                if fault.where is not None and not fault.where(*args, **kwargs):
                    continue
                if fault.skip:
                    fault.skip -= 1
                    return None
                fault.times -= 1
                if fault.times <= 0:
                    self.pending.remove(fault)
                return fault
        return None


class AsyncMockCursor:
    """`AsyncCursor` / `AsyncCommandCursor`: chain `sort`/`skip`/`limit`, then `to_list` or `async for`."""

    def __init__(self, make: Callable[[], Iterator[dict[str, Any]]]) -> None:
        self._make = make
        self._sort: Any = None
        self._skip = 0
        self._limit = 0

    def sort(self, key: Any, direction: int | None = None) -> AsyncMockCursor:
        self._sort = [(key, direction if direction is not None else 1)] if isinstance(key, str) else list(key)
        return self

    def skip(self, n: int) -> AsyncMockCursor:
        self._skip = n
        return self

    def limit(self, n: int) -> AsyncMockCursor:
        self._limit = n
        return self

    def _results(self) -> list[dict[str, Any]]:
        cursor: Any = self._make()
        if isinstance(cursor, MockCursor):
            if self._sort:
                cursor = cursor.sort(self._sort)  # type: ignore[no-untyped-call]  # mongomock's Cursor is untyped
            cursor = cursor.skip(self._skip).limit(self._limit)
        return list(cursor)

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        await asyncio.sleep(0)
        docs = self._results()
        return docs if length is None else docs[:length]

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        for doc in await self.to_list():
            yield doc


def _check_size(doc: dict[str, Any]) -> None:
    size = len(bson.encode(doc))
    if size > MAX_BSON_SIZE:  # the message PyMongo gives
        raise DocumentTooLarge(
            f"BSON document too large ({size} bytes) - the connected server supports"
            f" BSON document sizes up to {MAX_BSON_SIZE} bytes."
        )


class AsyncMockCollection:
    """The async `AsyncCollection` methods the store uses, over a mongomock collection."""

    def __init__(self, coll: mongomock.Collection[dict[str, Any]], faults: Faults, *, sessions: bool = False) -> None:
        self._coll = coll
        self._faults = faults
        self._sessions = sessions
        self.name: str = coll.name

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0)
        session = kwargs.pop("session", None)
        if session is not None and not self._sessions:
            raise NotImplementedError("the mongomock stand-in has no sessions or transactions")
        fault = self._faults.take(self.name, method, *args, **kwargs)
        if fault is not None and not fault.after:
            raise fault.error
        result = getattr(self._coll, method)(*args, **kwargs)
        if fault is not None:
            raise fault.error
        return result

    async def find_one(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("find_one", *args, **kwargs)

    def find(self, *args: Any, **kwargs: Any) -> AsyncMockCursor:
        self._faults.take(self.name, "find")
        return AsyncMockCursor(lambda: self._coll.find(*args, **kwargs))

    async def aggregate(self, pipeline: list[dict[str, Any]], **kwargs: Any) -> AsyncMockCursor:
        docs = list(await self._call("aggregate", pipeline, **kwargs))
        return AsyncMockCursor(lambda: iter(docs))

    async def insert_one(self, doc: dict[str, Any], **kwargs: Any) -> Any:
        _check_size(doc)
        return await self._call("insert_one", doc, **kwargs)

    async def insert_many(self, docs: list[dict[str, Any]], **kwargs: Any) -> Any:
        for doc in docs:
            _check_size(doc)
        return await self._call("insert_many", docs, **kwargs)

    async def update_one(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("update_one", *args, **kwargs)

    async def update_many(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("update_many", *args, **kwargs)

    async def find_one_and_update(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("find_one_and_update", *args, **kwargs)

    async def delete_one(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("delete_one", *args, **kwargs)

    async def delete_many(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("delete_many", *args, **kwargs)

    async def count_documents(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("count_documents", *args, **kwargs)

    async def create_index(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("create_index", *args, **kwargs)

    async def watch(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0)
        raise OperationFailure("The $changeStream stage is only supported on replica sets", code=40573)


class AsyncMockDatabase:
    def __init__(self, db: mongomock.Database[dict[str, Any]], faults: Faults, *, sessions: bool = False) -> None:
        self._db = db
        self._faults = faults
        self._sessions = sessions
        self._collections: dict[str, AsyncMockCollection] = {}

    def get_collection(self, name: str, **options: Any) -> AsyncMockCollection:
        if name not in self._collections:
            coll = self._db.get_collection(name)
            self._collections[name] = AsyncMockCollection(coll, self._faults, sessions=self._sessions)
        return self._collections[name]

    def raw(self, name: str) -> mongomock.Collection[dict[str, Any]]:
        """The underlying mongomock collection, for assertions."""
        return self._db.get_collection(name)


class _Admin:
    def __init__(self, faults: Faults, hello: dict[str, Any]) -> None:
        self._faults = faults
        self.hello = hello
        """Fields added to (or replacing) the standalone server's `hello` reply."""

    async def command(self, name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        fault = self._faults.take("admin", name)
        if fault is not None:
            raise fault.error
        if name == "ping":
            return {"ok": 1.0}
        if name == "hello":
            hello: dict[str, Any] = {"isWritablePrimary": True, "maxWireVersion": 21, "ok": 1.0}
            return hello | self.hello
        raise NotImplementedError(f"the mongomock stand-in does not run the {name!r} command")


class _PlumbingSession:
    """`start_session()` with `fake_sessions`: runs the callback once, with NO isolation and NO rollback."""

    async def __aenter__(self) -> _PlumbingSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def with_transaction(self, callback: Callable[[Any], Any], **options: Any) -> Any:
        return await callback(self)


class AsyncMockClient:
    """Stands in for `pymongo.AsyncMongoClient` (a standalone server) in the tests.

    With `fake_sessions=True` it accepts `session=` arguments, `hello` names a replica set, and
    `start_session().with_transaction(...)` just runs the callback: that executes the *code* of the store's
    transaction path, but proves nothing about transactions (no isolation, no rollback); only the
    real-server tests do. `admin.hello` holds what it adds to `hello`'s reply.
    """

    def __init__(
        self, mock: mongomock.MongoClient[dict[str, Any]] | None = None, *, fake_sessions: bool = False
    ) -> None:
        self.mock = mock if mock is not None else mongomock.MongoClient()
        self.fake_sessions = fake_sessions
        self.faults = Faults()
        self.admin = _Admin(self.faults, {"setName": "rs0"} if fake_sessions else {})
        self.closed = False
        self._databases: dict[str, AsyncMockDatabase] = {}

    def get_database(self, name: str, **options: Any) -> AsyncMockDatabase:
        if name not in self._databases:
            db = self.mock.get_database(name)
            self._databases[name] = AsyncMockDatabase(db, self.faults, sessions=self.fake_sessions)
        return self._databases[name]

    def start_session(self) -> _PlumbingSession:
        if not self.fake_sessions:
            raise NotImplementedError("the mongomock stand-in has no sessions or transactions")
        return _PlumbingSession()

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def mock_client() -> AsyncMockClient:
    return AsyncMockClient()


@pytest.fixture
def mock_client_factory() -> Callable[[], AsyncMockClient]:
    """Makes a new, empty stand-in client (a new in-memory server) each time it is called."""
    return AsyncMockClient
