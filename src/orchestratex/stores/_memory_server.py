"""What a `MemoryStore` keeps for the server beside the runs: API keys and the limits' counters.

API keys, few and changing, are kept as objects, copied in and out (`snapshot`); a counter is a list of
its value and its expiry, expired ones swept in amortised O(1).
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime

from .._ids import utcnow
from ..exceptions import Conflict, NotFound
from ..records import ApiKey
from ._memory_rows import snapshot
from ._memory_state import SWEEP_AT, MemoryState
from .checks import (
    COUNTER_MAX,
    COUNTER_MIN,
    check_api_key,
    check_incr,
    check_name,
    check_ttl,
    counter_overflow,
    created_order,
)

__all__ = ["MemoryServerTables"]


class MemoryServerTables(MemoryState):
    """`Store`'s API key and counter methods over a `MemoryStore`'s tables."""

    # -- API keys -----------------------------------------------------------------------------
    async def create_api_key(self, key: ApiKey) -> ApiKey:
        check_api_key(key)
        if key.key_hash in self._api_keys or any(k.id == key.id for k in self._api_keys.values()):
            raise Conflict("an API key with this hash (or id) already exists")
        self._api_keys[key.key_hash] = snapshot(key)
        return key

    async def get_api_key(self, key_hash: str) -> ApiKey | None:
        key = self._api_keys.get(key_hash)
        return None if key is None else snapshot(key)

    async def list_api_keys(self, user_id: str | None = None) -> list[ApiKey]:
        keys = [k for k in self._api_keys.values() if user_id is None or k.user_id == user_id]
        return [snapshot(k) for k in sorted(keys, key=created_order)]

    async def revoke_api_key(self, key_id: str) -> ApiKey:
        key = self._api_key_by_id(key_id)
        if key.revoked_at is None:
            key.revoked_at = key.updated_at = utcnow()
        return snapshot(key)

    async def touch_api_key(self, key_id: str, when: datetime) -> None:
        with contextlib.suppress(NotFound):
            self._api_key_by_id(key_id).last_used_at = when

    def _api_key_by_id(self, key_id: str) -> ApiKey:
        for key in self._api_keys.values():
            if key.id == key_id:
                return key
        raise NotFound(f"no API key {key_id!r}")

    # -- counters -----------------------------------------------------------------------------
    async def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        check_name("a counter's key", key)
        check_incr(amount)
        check_ttl(ttl_s, "counter")
        now = time.time()
        counter = self._counters.get(key)
        if counter is None or (counter[1] is not None and counter[1] <= now):
            if len(self._counters) >= self._sweep_at:
                self._sweep_counters(now)
            self._counters[key] = [amount, None if ttl_s is None else now + ttl_s]
            return amount
        if not COUNTER_MIN <= counter[0] + amount <= COUNTER_MAX:
            raise counter_overflow(key, int(counter[0]), amount)
        counter[0] += amount
        return int(counter[0])

    def _sweep_counters(self, now: float) -> None:
        """Forget expired counters; the next sweep waits until the live ones have doubled (amortised O(1))."""
        for key in [k for k, (_, expires) in self._counters.items() if expires is not None and expires <= now]:
            del self._counters[key]
        self._sweep_at = max(SWEEP_AT, 2 * len(self._counters))
