"""Background runs: resumed at start-up, handed back after the grace period on shutdown, slots held until they end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import orchestratex.server as server_package
from orchestratex import Orchestrator
from orchestratex.exceptions import StoreUnavailable
from orchestratex.server import ServerSettings, create_app, issue_api_key
from orchestratex.server._runner import Runner
from orchestratex.stores import MemoryStore, SQLiteStore

from .conftest import Api, bearer


def test_orchestrations_left_pending_are_resumed_at_start_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    path = tmp_path / "resume.db"

    async def leave_pending() -> tuple[str, str]:
        async with SQLiteStore(path) as store:
            async with Orchestrator(store=store) as orchestrator:  # (closed: it gives up the lease of what it prepared)
                doc = await orchestrator.prepare("Explain recursion", user_id="alice")
            return doc.id, await issue_api_key(store, "alice")

    oid, key = asyncio.run(leave_pending())
    with TestClient(create_app(SQLiteStore(path), settings=ServerSettings())) as client:
        api = Api(client, client.app.state.server.store, bearer(key), {}, {}, {"alice": key})  # type: ignore[attr-defined]
        final = api.wait(oid)
    assert final["status"] == "completed"


def test_a_graceful_stop_hands_runs_back_after_the_grace_and_the_next_start_finishes_them(
    tmp_path: Path, make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "stop.db"
    api = make_api(SQLiteStore(path), env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "1"}, shutdown_grace_s=0.05)
    tid = api.thread(api.session()["_id"])["_id"]
    oid = api.start(tid)["_id"]
    api.client.__exit__(None, None, None)

    async def after() -> tuple[str, int]:
        async with SQLiteStore(path) as store:
            doc = await store.get_orchestration(oid)
            return doc.status, await store.count_active_orchestrations("alice")

    assert asyncio.run(after()) == ("running", 1)  # suspended, not ended: its slot is still held

    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    with TestClient(create_app(SQLiteStore(path), settings=ServerSettings())) as client:
        final = Api(client, client.app.state.server.store, api.alice, {}, {}, {}).wait(oid)  # type: ignore[attr-defined]
    assert final["status"] == "completed"
    assert asyncio.run(after()) == ("completed", 0)


def test_the_package_exports_exactly_its_public_names() -> None:
    public = {n for n in vars(server_package) if not n.startswith("_") and n not in ("annotations", "fastapi")}
    assert set(server_package.__all__) == public
    assert server_package.__all__ == sorted(server_package.__all__)


class _TogetherReleaseStore(SQLiteStore):
    """A store whose lease release waits until the releases of `runs` runs are all under way (at most `wait_s`):
    handed back together, the last lets them all go at once; one after another, each waits `wait_s` alone."""

    def __init__(self, path: Path, runs: int, wait_s: float = 10.0) -> None:
        super().__init__(path)
        self.runs = runs
        self.wait_s = wait_s
        self.releasing = 0
        self.most_at_once = 0
        self._all_in: asyncio.Event | None = None

    async def release(self, orchestration_id: str, owner: str) -> None:
        if self._all_in is None:
            self._all_in = asyncio.Event()
        self.releasing += 1
        self.most_at_once = max(self.most_at_once, self.releasing)
        if self.releasing == self.runs:
            self._all_in.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_in.wait(), self.wait_s)
        self.releasing -= 1
        await super().release(orchestration_id, owner)


def test_a_graceful_stop_hands_the_runs_back_together_not_one_after_another(
    tmp_path: Path, make_api: Callable[..., Api]
) -> None:
    """The stop takes the grace plus one hand-back, not the grace plus one per run: the five runs' releases are under
    way at once. (Timed, as it was, a loaded runner pausing the test process for half a second failed it.)"""
    path = tmp_path / "stop.db"
    store = _TogetherReleaseStore(path, runs=5)
    api = make_api(store, env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "5"}, shutdown_grace_s=0.2)
    sid = api.session()["_id"]
    oids = [api.start(api.thread(sid)["_id"])["_id"] for _ in range(5)]
    assert api.client.app.state.server.runner.running == 5  # type: ignore[attr-defined]
    api.client.__exit__(None, None, None)
    assert store.most_at_once == 5  # one after another: 1

    async def handed_back() -> tuple[list[str], list[str]]:
        async with SQLiteStore(path) as store:
            return [(await store.get_orchestration(o)).status for o in oids], await store.list_resumable()

    statuses, resumable = asyncio.run(handed_back())
    assert statuses == ["running"] * 5 and sorted(resumable) == sorted(oids)  # their leases given up


def test_an_app_served_again_runs_its_orchestrations(monkeypatch: pytest.MonkeyPatch) -> None:
    """One app, served twice (a `TestClient(app)` after another, as a module-scoped app in a test suite is): the second
    time, every run started stayed `pending` (the first close's hand-back went on refusing runs), and a run the first
    close handed back was never finished."""
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0.5")  # (read once, by the app's orchestrator)
    store = SQLiteStore(":memory:")
    app = create_app(store, settings=ServerSettings(shutdown_grace_s=0.05, rate_limit=10_000))
    with TestClient(app) as client:
        alice = bearer(client.portal.call(issue_api_key, store, "alice"))  # type: ignore[union-attr]
        first = Api(client, store, alice, {}, {}, {})
        tid = first.thread(first.session()["_id"])["_id"]
        handed_back = first.start(tid)["_id"]
    with TestClient(app) as client:
        again = Api(client, store, alice, {}, {}, {})
        assert again.wait(handed_back)["status"] == "completed"
        assert again.wait(again.start(tid)["_id"])["status"] == "completed"


def test_a_run_cancelled_while_no_server_drove_it_ends_without_another_call(
    tmp_path: Path, make_api: Callable[..., Api]
) -> None:
    # a run handed back by a stopped server (or left by a dead one), then cancelled through another server sharing
    # the store (202: recorded in the store): the next server to resume it made a call first (a judge's, or the next
    # answer), stopped at once by its first check of the store: a call the provider may bill, for a cancelled run
    path = tmp_path / "cancelled.db"
    api = make_api(SQLiteStore(path), env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "1"}, shutdown_grace_s=0.05)
    tid = api.thread(api.session(max_iterations=10)["_id"])["_id"]
    oid = api.start(tid, settings={"evaluation_threshold": 10})["_id"]
    api.client.__exit__(None, None, None)

    async def cancel() -> str:
        async with SQLiteStore(path) as store:
            assert await store.request_cancel(oid)  # (as a server sharing the store records it)
            return (await store.get_orchestration(oid)).status

    assert asyncio.run(cancel()) == "running"  # handed back, not ended
    with TestClient(create_app(SQLiteStore(path), settings=ServerSettings())) as client:
        final = Api(client, client.app.state.server.store, api.alice, {}, {}, {}).wait(oid)  # type: ignore[attr-defined]
    assert (final["status"], final["stop_reason"]) == ("cancelled", "cancelled")
    assert final["abandoned_calls"] is None  # no call in flight when it ended: it made none


class _NoCancelAnswerStore(MemoryStore):
    """The store cannot say which runs to stop (unavailable for a moment)."""

    async def cancel_requests(self, orchestration_ids: Sequence[str]) -> set[str]:
        raise StoreUnavailable("the store is unreachable")


def test_a_resume_pass_the_store_fails_keeps_the_runs_to_try_again() -> None:
    # the runs whose claim failed here are tried again at the next pass: a pass failing as it asked the store which
    # of them were cancelled must not forget them
    async def main() -> set[str]:
        store = _NoCancelAnswerStore()
        runner = Runner(Orchestrator(store=store), resume_every_s=60)
        runner._unclaimed.add("6b1659aa0000000000000001")
        with pytest.raises(StoreUnavailable):
            await runner.resume_once()
        return runner._unclaimed

    assert asyncio.run(main()) == {"6b1659aa0000000000000001"}


class _CountingStore(SQLiteStore):
    """Counts how many times the store is asked whether each run should stop."""

    asked: dict[str, int]

    async def cancel_requests(self, orchestration_ids: Sequence[str]) -> set[str]:
        for oid in orchestration_ids:
            self.asked[oid] = self.asked.get(oid, 0) + 1
        return await super().cancel_requests(orchestration_ids)


def test_a_resume_pass_asks_the_store_once_per_run_whether_to_stop_it(
    tmp_path: Path, make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the pass asked the store which of the runs it resumes were cancelled, then each run handed back `running` asked
    # it again, for itself, as it read its session: a round trip per run more as a server starts
    path = tmp_path / "asked.db"
    api = make_api(SQLiteStore(path), env={"ORCHESTRATEX_SIM_LATENCY_SCALE": "1"}, shutdown_grace_s=0.05)
    sid = api.session(max_iterations=10)["_id"]
    oids = [api.start(api.thread(sid)["_id"], settings={"evaluation_threshold": 10})["_id"] for _ in range(3)]
    api.client.__exit__(None, None, None)  # (they are handed back `running`)
    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")

    async def main() -> tuple[dict[str, int], list[str], list[str]]:
        store = _CountingStore(path)
        store.asked = {}
        async with store:
            assert await store.request_cancel(oids[0])
            async with Orchestrator(store=store) as orchestrator:
                runner = Runner(orchestrator, resume_every_s=60)
                resumed = await runner.resume_once()
                await asyncio.wait(list(runner._tasks.values()))
                assert orchestrator._stop_asked == set()  # (forgotten as each ended)
            ended: list[str] = [(await store.get_orchestration(oid)).status for oid in oids]
        return store.asked, resumed, ended

    asked, resumed, ended = asyncio.run(main())
    assert sorted(resumed) == sorted(oids) and ended[0] == "cancelled" and "cancelled" not in ended[1:], ended
    assert asked[oids[1]] == asked[oids[2]] == 1  # (each once, by the pass: before its first call)
    # the one cancelled meanwhile was asked about again as it began, though the pass had just been told to end it
    assert asked[oids[0]] == 1
