"""Writes applied once despite retries: the tokens of `reserve_budget`, `incr` and `record_routing_outcome`.

An `$inc` is not idempotent: after a reply lost on the network (`AutoReconnect`, `NetworkTimeout`), the
write may or may not have been applied, and repeating it may apply it twice. MongoDB's retryable writes
settle that only on replica sets and sharded clusters (a transaction number per write), not on a
standalone server, and only for the driver's own single retry. So each such write carries a token, an
`ObjectId` drawn once per logical write and kept across every retry of it; the document records the last
`KEEP` tokens applied to it (a bounded array, in the same atomic update), and the write skips a document
that already holds its token. A retry that finds its token counts as done: the write happened once.

`Unresolved` carries this across calls: when a write fails with its outcome unknown (the store's retries
ran out, or the caller was cancelled), its token is kept, and the next call with the same arguments (the
orchestrator retrying `reserve_budget` after `StoreUnavailable`) reuses it, so that call completes the
first one instead of adding a second.

What this does not cover: a token that has left the bounded array (more than `KEEP` later writes to the
same document before the retry), or an attempt the server executes only after the store has moved on.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

from bson import ObjectId

__all__ = ["KEEP", "Unresolved"]

_T = TypeVar("_T")

KEEP = 16
"""How many recent tokens a document keeps (per orchestration for reservations): a retry comes within
seconds, so this many later writes to the same document in between are far more than happen."""


class Unresolved:
    """Tokens of writes whose outcome is unknown, each handed to the next call with the same arguments."""

    def __init__(self, limit: int = 1024) -> None:
        self._tokens: OrderedDict[Hashable, ObjectId] = OrderedDict()
        self._limit = limit

    async def once(self, key: Hashable, write: Callable[[ObjectId], Awaitable[_T]]) -> _T:
        """`await write(token)` with the token left unresolved by an earlier call for `key` (else a new one);
        if it raises (the write may have been applied), the token is kept for the next call for `key`."""
        token = self._tokens.pop(key, None) or ObjectId()
        try:
            return await write(token)
        except BaseException:
            self._tokens[key] = token
            while len(self._tokens) > self._limit:
                self._tokens.popitem(last=False)
            raise

    def __len__(self) -> int:
        return len(self._tokens)
