"""MemoryStore specifics: its URL, what it copies, and what it leaves for the garbage collector."""

from __future__ import annotations

import gc

import pytest

from orchestratex.events import ModelSelected, OrchestrationCompleted
from orchestratex.exceptions import ConfigurationError
from orchestratex.records import (
    CallRecord,
    Evaluation,
    Iteration,
    JudgeVerdict,
    Orchestration,
    OrchestrationSettings,
    Session,
    Thread,
)
from orchestratex.stores import MemoryStore, store_from_url
from orchestratex.usage import Usage


def test_from_url() -> None:
    assert isinstance(MemoryStore.from_url("memory://"), MemoryStore)
    assert isinstance(store_from_url("memory://"), MemoryStore)
    for url in ("memory://x", "memory:///db", "memory://?a=1", "sqlite://"):
        with pytest.raises(ConfigurationError):
            MemoryStore.from_url(url)
    for url in ("memory://x", "memory:///db", "memory://?persist=1", "memory:/"):  # (open_store took each)
        with pytest.raises(ConfigurationError, match="a memory store URL is exactly 'memory://'"):
            store_from_url(url)


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


def _judged(index: int) -> Iteration:
    verdict = JudgeVerdict(judge_model="sim:b", score=9.0, feedback="good", usage=Usage(input_tokens=50))
    evaluation = Evaluation(score=9.0, feedback="good", judge_models=["sim:b"], verdicts=[verdict], cost=0.001)
    return Iteration(
        index=index, model_name="sim:a", prompt="p", phase="evaluated", response="r", evaluation=evaluation
    )


async def _finish(store: MemoryStore, session: Session, n: int) -> None:
    """`n` orchestrations, each in a new thread, committed as a run commits them: two steps, then the end."""
    for _ in range(n):
        thread = await store.create_thread(Thread(session_id=session.id, user_id="u", original_prompt="p"))
        o = Orchestration(thread_id=thread.id, session_id=session.id, user_id="u", prompt="p", domain="coding")
        await store.create_orchestration(o)
        ids = {"orchestration_id": o.id, "thread_id": thread.id, "session_id": session.id}
        selected = ModelSelected(**ids, model_name="sim:a", reasoning="r", iteration=1, scores={"sim:a": 1.0})
        o.status = "running"
        o.iterations.append(Iteration(index=1, model_name="sim:a", prompt="p"))
        await store.commit(o, [selected])
        o.iterations[0] = _judged(1)
        call = CallRecord(
            orchestration_id=o.id,
            session_id=session.id,
            user_id="u",
            model_name="sim:a",
            role="generate",
            domain="coding",
        )
        await store.commit(o, calls=[call], spent=0.001)
        o.status, o.final_response, o.final_score = "completed", "r", 9.0
        done = OrchestrationCompleted(
            **ids,
            final_response="r",
            iterations=1,
            final_score=9.0,
            total_cost=0.001,
            stop_reason="threshold",
            model_name="sim:a",
        )
        await store.commit(o, [done])


async def test_nested_objects_are_copied_too() -> None:
    """A commit copies the whole document: evaluations, verdicts and settings included."""
    store = MemoryStore()
    session = await store.create_session(Session(user_id="u"))
    thread = await store.create_thread(Thread(session_id=session.id, user_id="u", original_prompt="p"))
    thread.original_prompt = "changed after create"
    o = Orchestration(
        thread_id=thread.id,
        session_id=session.id,
        user_id="u",
        prompt="p",
        settings=OrchestrationSettings(preferred_models=["sim:a"]),
    )
    await store.create_orchestration(o)
    o.iterations.append(_judged(1))
    await store.commit(o)
    evaluation = o.iterations[0].evaluation
    assert evaluation is not None
    evaluation.score = 1.0
    evaluation.verdicts[0].feedback = "changed after commit"
    evaluation.judge_models.append("sim:c")
    o.settings.max_iterations = 9
    o.settings.preferred_models.append("sim:b")  # type: ignore[union-attr]
    got = await store.get_orchestration(o.id)
    assert got.iterations == [_judged(1)]
    assert got.settings == OrchestrationSettings(preferred_models=["sim:a"])
    got.iterations[0].evaluation.verdicts.clear()  # type: ignore[union-attr]
    got.settings.preferred_models = None
    (listed,) = await store.list_orchestrations(thread_id=thread.id)
    assert len(listed.iterations[0].evaluation.verdicts) == 1  # type: ignore[union-attr]
    assert listed.settings.preferred_models == ["sim:a"]
    got_thread = await store.get_thread(thread.id)
    assert got_thread.original_prompt == "p"
    got_thread.domain = "changed after read"
    assert (await store.list_threads(session.id))[0].domain is None


async def test_call_records_are_copied() -> None:
    store = MemoryStore()
    session = await store.create_session(Session(user_id="u"))
    await _finish(store, session, 1)
    call = CallRecord(
        orchestration_id="o", session_id=session.id, user_id="u", model_name="sim:a", role="judge", domain="coding"
    )
    await store.commit(
        (await store.list_orchestrations(session_id=session.id))[0], calls=[call.model_copy(update={"cost": 0.5})]
    )
    call.cost = 7.0
    assert (await store.session_analytics(session.id)).models[0].cost == 0.5


async def test_finished_orchestrations_keep_no_object_the_garbage_collector_walks() -> None:
    """Orchestrations, their events, calls and threads are kept as bytes and tuples of atomic values:
    the store does not grow the set of objects every full collection traverses (it kept ~40 per run)."""
    store = MemoryStore()
    session = await store.create_session(Session(user_id="u"))
    await _finish(store, session, 20)  # the session's lists and indexes exist; pydantic's caches are warm
    grown = []
    for _ in range(2):  # (the lesser of two batches: objects made meanwhile elsewhere in the process, by a thread
        gc.collect()  # an earlier test left winding down on a loaded runner, are not the store's)
        before = len(gc.get_objects())
        await _finish(store, session, 300)
        gc.collect()
        grown.append(len(gc.get_objects()) - before)
    # fewer than one per run: the old forms kept ~40 per run (12,000 a batch here); a few dozen objects made
    # elsewhere in the process (caches filled lazily by the tests run before) are not the store's
    assert min(grown) < 300, grown
    analytics = await store.session_analytics(session.id)
    assert (analytics.orchestrations, analytics.total_iterations, analytics.mean_final_score) == (620, 620, 9.0)
    assert len(await store.list_events(session.id, limit=10_000)) == 1240


async def test_expired_counters_are_swept() -> None:
    store = MemoryStore()
    for i in range(10_002):
        await store.incr(f"k{i}", ttl_s=1e-6)
    await store.incr("last")
    assert len(store._counters) < 10
    for i in range(12_000):  # live counters: sweeps become rarer instead of running on every new key
        await store.incr(f"live{i}")
    assert store._sweep_at > 12_000 and await store.incr("live0") == 2
