"""The connection: the client (made from a URL with fail-fast defaults), the handshake, the collections
with their write concerns, and the indexes `open()` creates."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.mongo_client import AsyncMongoClient
from pymongo.common import URI_OPTIONS_VALIDATOR_MAP
from pymongo.errors import OperationFailure, PyMongoError
from pymongo.uri_parser import split_options
from pymongo.write_concern import WriteConcern

from orchestratex.exceptions import ConfigurationError, StoreError, StoreUnavailable

from . import _analytics
from ._errors import Retrier, redact_url

__all__ = ["ORDER", "Collections", "check_database_name", "handshake", "make_client"]

_Doc = dict[str, Any]
_Coll = AsyncCollection[_Doc]

ORDER = [("created_us", 1), ("_id", 1)]
"""The order of every listing: creation time, then id."""

_INDEXES: dict[str, list[tuple[list[tuple[str, int]], dict[str, Any]]]] = {
    "sessions": [([("user_id", 1), *ORDER], {})],
    "threads": [([("session_id", 1), *ORDER], {}), ([("user_id", 1)], {})],
    "orchestrations": [
        ([("session_id", 1), *ORDER], {}),
        ([("thread_id", 1), *ORDER], {}),
        (ORDER, {}),
        ([("status", 1), *ORDER], {}),
        ([("user_id", 1), ("status", 1)], {}),
        *((keys, {}) for keys in _analytics.ANALYTICS_INDEXES["orchestrations"]),
    ],
    "events": [
        ([("session_id", 1), ("seq", 1)], {"unique": True}),
        ([("session_id", 1), ("orchestration_id", 1), ("seq", 1)], {}),
    ],
    "calls": [(keys, {}) for keys in _analytics.ANALYTICS_INDEXES["calls"]],
    "routing_stats": [([("router", 1), ("domain", 1), ("model_name", 1)], {"unique": True})],
    "api_keys": [([("key_hash", 1)], {"unique": True})],
    "counters": [([("expires_at", 1)], {"expireAfterSeconds": 0})],
    "commits": [([("session_id", 1), ("at", 1)], {}), ([("orchestration_id", 1)], {}), ([("at", 1)], {})],
}


_NOT_IN_NAMES = '/\\. "$\x00'
_AUTHENTICATION_FAILED = 18
_MIN_WIRE_VERSION = 13
"""MongoDB 5.0: pipeline updates, and field names with dots (models' names) in stored documents."""


def check_database_name(name: str, source: str) -> str:
    """`name` if MongoDB accepts it as a database name, else `ConfigurationError` saying what to change."""
    bad = sorted({ch for ch in name if ch in _NOT_IN_NAMES})
    if not name or bad or len(name.encode()) > 63:
        why = f"it cannot contain {' '.join(repr(ch) for ch in bad)}" if bad else "it must be 1 to 63 bytes long"
        raise ConfigurationError(f"invalid MongoDB database name {name!r} ({source}): {why}")
    return name


def check_url_options(url: str) -> None:
    """`ConfigurationError` naming the first option of `url`'s query PyMongo refuses (an unknown name, a bad value).

    PyMongo's client only warns about those and ignores them: `serverSelectionTimeoutMS=abc` would make
    `open()` wait 30 s instead of failing fast, `tls=maybe` would connect without TLS."""
    query = urlsplit(url).query
    if not query:
        return
    try:
        split_options(query, validate=True, warn=False)
    except (PyMongoError, ValueError, TypeError, OSError) as exc:  # (OSError: a `tlsCAFile` it cannot read)
        unknown = [
            key for key, _ in parse_qsl(query, keep_blank_values=True) if key.lower() not in URI_OPTIONS_VALIDATOR_MAP
        ]
        why = f"unknown option {', '.join(map(repr, unknown))}" if unknown else redact_url(str(exc))
        raise ConfigurationError(f"invalid MongoDB URL {redact_url(url)}: {why}") from exc


def make_client(url: str, *, server_selection_timeout_ms: int) -> AsyncMongoClient[_Doc]:
    """A client for `url`, with retryable writes and a short server selection timeout unless the URL says otherwise."""
    check_url_options(url)
    given = {key.lower() for key, _ in parse_qsl(urlsplit(url).query)}
    options: dict[str, Any] = {}
    for key, value in (
        ("serverSelectionTimeoutMS", server_selection_timeout_ms),
        ("retryWrites", True),
        ("appname", "orchestratex"),
    ):
        if key.lower() not in given:
            options[key] = value
    try:
        return AsyncMongoClient(url, **options)
    except (PyMongoError, ValueError, TypeError, OSError) as exc:  # (ssl.SSLError: a `tlsCAFile` with no certificate)
        raise ConfigurationError(f"invalid MongoDB URL {redact_url(url)}: {redact_url(str(exc))}") from exc


async def handshake(client: AsyncMongoClient[_Doc], where: str, timeout_ms: int) -> bool:
    """Ping the deployment (failing within the server selection timeout); whether it is a replica set or a
    sharded cluster (so transactions and change streams work). `ConfigurationError` before MongoDB 5.0."""
    options = getattr(client, "options", None)
    seconds = getattr(options, "server_selection_timeout", None)
    if isinstance(seconds, int | float):  # the client's own (the URL's, or the injected client's) rules
        timeout_ms = round(seconds * 1000)
    limit = f"server selection timeout {timeout_ms} ms"
    overall = getattr(options, "timeout", None)  # (`timeoutMS`, which bounds every operation, server selection too)
    if isinstance(overall, int | float) and not isinstance(overall, bool) and overall * 1000 < timeout_ms:
        limit = f"timeoutMS {round(overall * 1000)} ms"
    try:
        await client.admin.command("ping")
        hello: Mapping[str, Any] = await client.admin.command("hello")
    except OperationFailure as exc:  # it answered, and refused
        if exc.code == _AUTHENTICATION_FAILED:
            raise ConfigurationError(
                f"MongoDB at {where} refused the credentials (authentication failed): check the user, the password"
                " and `authSource` in the URL"
            ) from exc
        raise StoreError(f"MongoDB at {where} refused the connection: {redact_url(str(exc))}") from exc
    except PyMongoError as exc:
        # (without what PyMongo adds after the reason: the timeout again, and its topology dump, which said each
        # server's error a second time: about 700 characters of a one-line error)
        reason = redact_url(str(exc)).split(", Timeout: ", 1)[0]
        raise StoreUnavailable(f"cannot reach MongoDB at {where} ({limit}): {reason}") from exc
    if int(hello.get("maxWireVersion", 0)) < _MIN_WIRE_VERSION:
        raise ConfigurationError(
            f"MongoDB at {where} is older than 5.0 (wire version {hello.get('maxWireVersion')}): the store needs"
            " MongoDB 5.0 or newer"
        )
    return "setName" in hello or hello.get("msg") == "isdbgrid"


class Collections:
    """The store's collections. Orchestration steps, money and events are written with `w: majority`."""

    def __init__(self, client: AsyncMongoClient[_Doc], database: str) -> None:
        db = client.get_database(database)
        majority = WriteConcern("majority")

        def get(name: str, wc: WriteConcern | None = majority) -> _Coll:
            return db.get_collection(name, write_concern=wc) if wc is not None else db.get_collection(name)

        self.sessions = get("sessions")
        self.threads = get("threads")
        self.orchestrations = get("orchestrations")
        self.events = get("events")
        self.calls = get("calls")
        self.commits = get("commits")
        self.api_keys = get("api_keys")
        self.routing_stats = get("routing_stats", None)
        self.counters = get("counters", None)

    def all(self) -> dict[str, _Coll]:
        return {name: getattr(self, name) for name in _INDEXES}

    async def create_indexes(self, run: Retrier) -> None:
        """Create every index the store relies on (idempotent)."""
        for name, coll in self.all().items():
            for keys, options in _INDEXES[name]:
                await run(f"creating an index on {name}", partial(coll.create_index, keys, **options))
