"""MemoryStore specifics: its URL, and what it copies."""

from __future__ import annotations

import pytest

from orchestratex.events import ModelSelected
from orchestratex.exceptions import ConfigurationError
from orchestratex.records import Orchestration, Session, Thread
from orchestratex.stores import MemoryStore, store_from_url


def test_from_url() -> None:
    assert isinstance(MemoryStore.from_url("memory://"), MemoryStore)
    assert isinstance(store_from_url("memory://"), MemoryStore)
    for url in ("memory://x", "memory:///db", "memory://?a=1", "sqlite://"):
        with pytest.raises(ConfigurationError):
            MemoryStore.from_url(url)


async def test_reads_and_writes_are_isolated_from_callers() -> None:
    store = MemoryStore()
    session = await store.create_session(Session(user_id="u"))
    session.user_id = "changed after create"
    got = await store.get_session(session.id)
    assert got.user_id == "u"
    got.settings.preferred_models = ["x"]
    assert (await store.get_session(session.id)).settings.preferred_models is None
    thread = await store.create_thread(Thread(session_id=session.id, user_id="u", original_prompt="p"))
    o = await store.create_orchestration(
        Orchestration(thread_id=thread.id, session_id=session.id, user_id="u", prompt="p")
    )
    event = ModelSelected(
        orchestration_id=o.id, thread_id=thread.id, session_id=session.id, model_name="m", reasoning="r", iteration=1
    )
    await store.commit(o, [event])
    assert event.seq == 1
    event.model_name = "changed after commit"
    (stored,) = await store.list_events(session.id)
    assert isinstance(stored, ModelSelected) and stored.model_name == "m"
    stored.reasoning = "changed after read"
    assert (await store.list_events(session.id))[0] == ModelSelected.model_validate(
        event.model_dump() | {"model_name": "m"}
    )


async def test_expired_counters_are_swept() -> None:
    store = MemoryStore()
    for i in range(10_002):
        await store.incr(f"k{i}", ttl_s=1e-6)
    await store.incr("last")
    assert len(store._counters) < 10
    for i in range(12_000):  # live counters: sweeps become rarer instead of running on every new key
        await store.incr(f"live{i}")
    assert store._sweep_at > 12_000 and await store.incr("live0") == 2
