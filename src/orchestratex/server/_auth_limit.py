"""`FailedAuthLimit`: failed key checks per client address, so that nobody can hammer the key check for free.

Every refused check counts alike — no key, a malformed `Authorization` header, an unknown or a revoked
key — against the address the request came from, in fixed windows. Past the limit, every key check from
that address answers 429 with `Retry-After` until its window ends, without looking at the key (a check
answered from the store would still cost a read, and tell a guesser when it was right).

Counted in this process's memory, not in the store: a store write per failure would give a client
hammering the check the very load this limit is there to stop. Several processes each allow the limit.
IPv6 addresses count by their /64 prefix, which one host or one customer usually holds whole.

At most `MAX_ADDRESSES` addresses are remembered. When that many have failed, those of past windows are
forgotten first; if the current window alone holds that many, the addresses with the fewest failures are
forgotten (down to nine tenths), never by start of window or at random: a client cannot clear the count
of an address it is locked out from by failing from many new addresses, which each start at one failure.
"""

from __future__ import annotations

import ipaddress
import math
import time

from starlette.types import Scope

from ._errors import ApiError

__all__ = ["MAX_ADDRESSES", "FailedAuthLimit", "client_address"]

MAX_ADDRESSES = 10_000
"""How many client addresses the limit remembers at most."""


def client_address(scope: Scope) -> str | None:
    """The address a request or WebSocket comes from (`scope["client"]`), IPv6 cut to its /64; None if unknown."""
    client = scope.get("client")
    if not client:
        return None
    host = str(client[0])
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # (a Unix socket's peer, a test client's name)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return host


class FailedAuthLimit:
    """At most `limit` failed key checks per client address per fixed window of `window_s` seconds."""

    def __init__(self, limit: int, window_s: int) -> None:
        self.limit = limit
        self.window_s = window_s
        self._counts: dict[str, list[int]] = {}
        """Per address: [failures in the window, window]."""

    def _window(self) -> tuple[int, int]:
        now = time.time()
        window = int(now // self.window_s)
        return window, max(1, math.ceil((window + 1) * self.window_s - now))

    def check(self, address: str | None) -> None:
        """Raise 429 when `address` has used up its failed checks in this window."""
        if address is None:
            return
        entry = self._counts.get(address)
        if entry is None:
            return
        window, reset = self._window()
        if entry[1] == window and entry[0] >= self.limit:
            raise ApiError(
                429,
                f"too many failed API key checks from this address ({self.limit} per {self.window_s} s):"
                f" retry in {reset} s with a valid key (`Authorization: Bearer <key>` or `X-API-Key: <key>`)",
                {"Retry-After": str(reset)},
                limit="auth_failures",
            )

    def fail(self, address: str | None) -> None:
        """Count one failed check from `address`."""
        if address is None:
            return
        window, _ = self._window()
        entry = self._counts.get(address)
        if entry is None or entry[1] != window:
            if entry is None and len(self._counts) >= MAX_ADDRESSES:
                self._make_room(window)
            entry = self._counts[address] = [0, window]
        entry[0] += 1

    def _make_room(self, window: int) -> None:
        """Forget the addresses of past windows, then, if still full, those with the fewest failures in this one
        (the earliest counted kept among equals), down to nine tenths of `MAX_ADDRESSES`."""
        counts = {a: e for a, e in self._counts.items() if e[1] == window}
        if len(counts) >= MAX_ADDRESSES:
            most = sorted(counts.items(), key=lambda item: item[1][0], reverse=True)  # (stable: earliest first)
            counts = dict(most[: MAX_ADDRESSES * 9 // 10])
        self._counts = counts
