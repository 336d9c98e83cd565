"""Per-user storage quota: the bytes of text a user has had stored (prompts and contexts), in a store counter.

Nothing a user stores is ever deleted through the API, so the counter `storage:<user>` only grows; it
counts the text a user can make large, each time it is stored: a thread's prompt and context, and an
orchestration's prompt, the context it copies from its thread and the conversation it answers (the
thread's earlier turns, their answers included: see `stored_bytes`). The records of a run's iterations
are not counted: each holds the prompt it sent (the prompt and context again, with the judges' feedback
for a refinement), at most `max_iterations` of them, its answer bounded by the model's output cap.
"""

from __future__ import annotations

from ..records import Orchestration
from ..stores import Store
from ._errors import ApiError

__all__ = ["StorageQuota", "stored_bytes", "text_bytes"]


def text_bytes(*texts: str | None) -> int:
    """The UTF-8 size of the given texts (None counts 0)."""
    return sum(len(t.encode("utf-8", "surrogatepass")) for t in texts if t)


def stored_bytes(doc: Orchestration) -> int:
    """What storing the orchestration `doc` counts: its prompt, its context (the thread's, copied in) and every
    message of the conversation it answers (the thread's earlier turns and their answers, then the prompt)."""
    return text_bytes(doc.prompt, doc.context, *(m.content for m in doc.messages))


class StorageQuota:
    """`quota_bytes` per user (0: unlimited); `charge` before storing, `refund` when the write did not happen."""

    def __init__(self, store: Store, quota_bytes: int) -> None:
        self.store = store
        self.quota_bytes = quota_bytes

    def _key(self, user_id: str) -> str:
        return f"storage:{user_id}"

    async def charge(self, user_id: str, size: int) -> int:
        """Count `size` more bytes for `user_id`, or raise 413 (nothing counted) when it would pass the quota.
        Returns what `refund` takes back if the write then fails."""
        if not self.quota_bytes or size <= 0:
            return 0
        used = await self.store.incr(self._key(user_id), size)
        if used > self.quota_bytes:
            await self.store.incr(self._key(user_id), -size)
            mb = self.quota_bytes / (1024 * 1024)
            raise ApiError(
                413,
                f"storage quota reached: user {user_id} may store {self.quota_bytes} bytes ({mb:g} MB) of prompts and"
                f" contexts, {max(used - size, 0)} are used and this request needs {size} more",
                limit="storage_quota",
            )
        return size

    async def refund(self, user_id: str, size: int) -> None:
        if size:
            await self.store.incr(self._key(user_id), -size)
