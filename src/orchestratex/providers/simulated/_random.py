"""Stable, seeded randomness for the simulator: every draw derives from a blake2b digest.

Python's `hash()` is salted per process and `random.Random(seed)` costs microseconds to seed, so
the simulator hashes what identifies a draw (seed, model, messages, …) and reads uniform numbers
straight out of the digest. The same inputs give the same numbers in any process, in any order.
"""

from __future__ import annotations

import math
import struct
from hashlib import blake2b

__all__ = ["Draws", "digest", "messages_bytes"]

_UNPACK = struct.Struct("<8Q").unpack
_TO_UNIT = 2.0**-53
_TWO_PI = 2.0 * math.pi


def digest(*parts: str | int | float | bytes) -> bytes:
    """A 64-byte blake2b digest of `parts`, unambiguous in how they are split."""
    h = blake2b(digest_size=64)
    for part in parts:
        data = part if isinstance(part, bytes) else repr(part).encode("utf-8")
        h.update(len(data).to_bytes(4, "little"))
        h.update(data)
    return h.digest()


def messages_bytes(messages: list[tuple[str, str]]) -> bytes:
    """A canonical byte string of (role, content) pairs, for hashing."""
    return "\x1e".join(f"{role}\x1f{content}" for role, content in messages).encode("utf-8", "surrogatepass")


class Draws:
    """A deterministic stream of random numbers read from a digest (re-hashed when used up)."""

    __slots__ = ("_digest", "_i", "_refills", "_spare", "_values")

    def __init__(self, seed_digest: bytes) -> None:
        self._digest = seed_digest
        self._values = _UNPACK(seed_digest)
        self._i = 0
        self._refills = 0
        self._spare: float | None = None

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        """A number in `[low, high)`."""
        if self._i == 8:
            self._refills += 1
            self._values = _UNPACK(blake2b(self._digest + self._refills.to_bytes(4, "little")).digest())
            self._i = 0
        value: int = self._values[self._i]
        self._i += 1
        return low + (high - low) * ((value >> 11) * _TO_UNIT)

    def normal(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        """A normally distributed number (Box–Muller)."""
        if self._spare is not None:
            z, self._spare = self._spare, None
            return mu + sigma * z
        radius = math.sqrt(-2.0 * math.log(1.0 - self.uniform()))
        angle = _TWO_PI * self.uniform()
        self._spare = radius * math.sin(angle)
        return mu + sigma * radius * math.cos(angle)

    def index(self, n: int) -> int:
        """An integer in `range(n)`."""
        return min(int(self.uniform() * n), n - 1)
