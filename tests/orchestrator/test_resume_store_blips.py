"""A resumed (or driven) run reads its session and releases what its last driver held with the store retries of the
run's writes: one `StoreUnavailable` there (a MongoDB election, a SQLite file locked past the busy timeout) ended the
run `failed` for good."""

from __future__ import annotations

from typing import Any

import pytest

from orchestratex import FunctionProvider, Generation, GenerationRequest, MemoryStore, Orchestrator
from orchestratex.exceptions import StoreUnavailable
from orchestratex.records import Session, SessionSettings

from ..helpers import NO_WAIT, answer_attempt, catalog, score_of_answer, scripted


class Blips(MemoryStore):
    """A store whose `method` is unreachable once, when armed."""

    def __init__(self, method: str) -> None:
        super().__init__()
        self.method, self.armed = method, False

    async def get_session(self, session_id: str) -> Any:
        self._blip("get_session")
        return await super().get_session(session_id)

    async def release_reservations(self, session_id: str, orchestration_id: str) -> Any:
        self._blip("release_reservations")
        return await super().release_reservations(session_id, orchestration_id)

    def _blip(self, method: str) -> None:
        if self.armed and method == self.method:
            self.armed = False
            raise StoreUnavailable("connection reset")


class _Died(BaseException):
    """The process dies while a call is in flight: nothing after it runs (a SIGKILL, in one process)."""


@pytest.mark.parametrize("method", ["get_session", "release_reservations"])
async def test_a_resumed_run_rides_out_one_unreachable_store_call(method: str) -> None:
    store = Blips(method)
    base = scripted(answer_attempt, score_of_answer({1: 9.0}))
    dead = False

    async def fn(request: GenerationRequest) -> Generation:
        if dead:
            raise _Died
        return await base.generate(request)

    def make() -> Orchestrator:
        return Orchestrator(
            providers=[FunctionProvider(fn)],
            catalog=catalog("a", "b"),
            store=store,
            store_retry=NO_WAIT,
            lease_ttl_s=0.2,
        )

    await store.open()
    session = await store.create_session(Session(user_id="alice", settings=SessionSettings(cost_limit=1.0)))
    for _ in range(2):  # (a second run resumed by the same orchestrator)
        if method == "get_session":  # a prepared run, driven by `resume_pending`
            async with make() as preparing:  # (closed: it gives up the lease its `prepare` held the run with)
                doc = await preparing.prepare("Hello", session=session, max_iterations=1)
        else:  # a run whose process died while its answer was being written: what it held is released
            dead = True
            with pytest.raises(_Died):
                await make().run("Hello", session=session, max_iterations=1)
            dead = False
            (doc,) = [o for o in await store.list_orchestrations(session_id=session.id) if o.status == "running"]
        store.armed = True
        [result] = await make().resume_pending()
        assert not store.armed  # (the store was unreachable once)
        assert result.orchestration.id == doc.id
        assert (result.status, result.final_score) == ("completed", 9.0), result.orchestration.error
        assert (await store.get_session(session.id)).reserved_cost == 0
