"""`fused`: a built-in store's one-round-trip `start`, `commit_step`, `renew_leases` and `cancel_requests` give way to
`Store`'s defaults, composed of the primitives, in a subclass that overrides one of those primitives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from orchestratex.events import Event, OrchestrationStarted
from orchestratex.records import Orchestration, Session, SessionSettings, Thread
from orchestratex.stores import MemoryStore, SQLiteStore, Store


class _CountingMemory(MemoryStore):
    commits = 0

    async def commit(
        self, orchestration: Orchestration, events: Sequence[Event] = (), **kwargs: Any
    ) -> Sequence[Event]:
        self.commits += 1
        return await super().commit(orchestration, events, **kwargs)


class _CountingSQLite(SQLiteStore):
    commits = 0

    async def commit(
        self, orchestration: Orchestration, events: Sequence[Event] = (), **kwargs: Any
    ) -> Sequence[Event]:
        self.commits += 1
        return await super().commit(orchestration, events, **kwargs)


class _Below(_CountingSQLite):
    """Inherits the override: composed too."""


class _OwnStart(_CountingMemory):
    """Overrides `start` itself, calling the built-in one: which composes, since `commit` is overridden."""

    starts = 0

    async def start(self, *args: Any, **kwargs: Any) -> Any:
        self.starts += 1
        return await super().start(*args, **kwargs)


def test_which_methods_a_class_composes_is_settled_when_it_is_defined() -> None:
    assert MemoryStore._composed == SQLiteStore._composed == frozenset()
    assert _CountingMemory._composed == _Below._composed == frozenset({"start", "commit_step"})


@pytest.mark.parametrize("kind", [_CountingMemory, _CountingSQLite, _Below, _OwnStart])
async def test_an_overridden_commit_sees_the_commits_of_start_and_commit_step(kind: type[Any]) -> None:
    store: Any = kind()
    async with store:
        session = await store.create_session(Session(user_id="u", settings=SessionSettings(cost_limit=1.0)))
        thread = Thread(session_id=session.id, user_id="u", original_prompt="p")
        o = Orchestration(thread_id=thread.id, session_id=session.id, user_id="u", prompt="p", messages=[])
        event = OrchestrationStarted(
            orchestration_id=o.id,
            thread_id=thread.id,
            session_id=session.id,
            prompt="p",
            domain="general",
            max_iterations=1,
            evaluation_threshold=8.0,
        )
        started = await store.start(o, thread=thread, owner="me", ttl_s=30, events=[event], reserve=0.1)
        assert started.reserved and event.seq == 1
        assert store.commits == 1  # the default: `commit` stored the events
        o.status = "completed"
        assert await store.commit_step(o, owner="me", release_lease=True)
        assert store.commits == 2
        assert (await store.get_session(session.id)).reserved_cost == 0
        assert await store.claim(o.id, "another", 30)  # the default released the lease
        assert getattr(store, "starts", 1) == 1


async def test_a_store_that_overrides_no_primitive_keeps_its_one_round_trip() -> None:
    class Plain(MemoryStore):
        async def commit(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the fused start writes without `commit`")

    class Again(Plain):
        commit = MemoryStore.commit  # (back to the built-in one)

    assert Again._composed == frozenset()
    async with Again() as store:
        session = await store.create_session(Session(user_id="u"))
        thread = Thread(session_id=session.id, user_id="u", original_prompt="p")
        o = Orchestration(thread_id=thread.id, session_id=session.id, user_id="u", prompt="p", messages=[])
        assert (await store.start(o, thread=thread, owner="me", ttl_s=30)).reserved
    assert Store._composed == frozenset()
