"""The contract suite fails a store that breaks a rule docs/stores.md says it checks (a third-party store's
mistakes), not only passes the built-in ones."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from orchestratex.events import Event
from orchestratex.records import TERMINAL_ORCHESTRATION_STATUSES, ApiKey, Orchestration, Session, Thread
from orchestratex.stores import Analytics, MemoryStore, ModelStats, Started, Store
from orchestratex.stores._memory_rows import C_DOMAIN, C_SCORE
from orchestratex.stores.aggregate import counted_score, mean_score
from orchestratex.stores.checks import check_start, to_pico
from orchestratex.testing.store_contract import StoreContract, StoreFactory


class KeepsWhatItIsGiven(MemoryStore):
    """Keeps the session, thread and API key objects it was given and hands them out again."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: dict[str, Any] = {}

    async def create_session(self, session: Session) -> Session:
        self.kept[session.id] = session
        return await super().create_session(session)

    async def get_session(self, session_id: str) -> Session:
        fresh = await super().get_session(session_id)
        kept: Session = self.kept[session_id]
        kept.total_cost, kept.reserved_cost, kept.updated_at = fresh.total_cost, fresh.reserved_cost, fresh.updated_at
        kept.status, kept.session_end = fresh.status, fresh.session_end
        return kept

    async def create_thread(self, thread: Thread) -> Thread:
        self.kept[thread.id] = thread
        return await super().create_thread(thread)

    async def get_thread(self, thread_id: str) -> Thread:
        await super().get_thread(thread_id)
        thread: Thread = self.kept[thread_id]
        return thread

    async def create_api_key(self, key: ApiKey) -> ApiKey:
        self.kept[key.key_hash] = key
        return await super().create_api_key(key)

    async def get_api_key(self, key_hash: str) -> ApiKey | None:
        await super().get_api_key(key_hash)
        key: ApiKey | None = self.kept.get(key_hash)
        return key


class SharesWhatItLists(MemoryStore):
    """Hands out the same event and thread objects from one listing to the next (a cache of decoded rows)."""

    def __init__(self) -> None:
        super().__init__()
        self.decoded: dict[object, Any] = {}

    async def list_events(
        self, session_id: str, *, since: int = 0, limit: int = 1000, orchestration_id: str | None = None
    ) -> list[Event]:
        found = await super().list_events(session_id, since=since, limit=limit, orchestration_id=orchestration_id)
        return [self.decoded.setdefault((session_id, e.seq), e) for e in found]

    async def list_threads(self, session_id: str, *, limit: int = 100, offset: int = 0) -> list[Thread]:
        found = await super().list_threads(session_id, limit=limit, offset=offset)
        return [self.decoded.setdefault(t.id, t) for t in found]


class ListsSessionsAsCreated(MemoryStore):
    """Lists sessions without their spending and reservations (kept apart from the session's document)."""

    async def list_sessions(self, user_id: str, *, limit: int = 100, offset: int = 0) -> list[Session]:
        found = await super().list_sessions(user_id, limit=limit, offset=offset)
        return [s.model_copy(update={"total_cost": 0.0, "reserved_cost": 0.0}) for s in found]


async def _fails(store: Store, test_name: str) -> bool:
    async with store:
        try:
            await getattr(StoreContract(), test_name)(store)
        except (AssertionError, pytest.fail.Exception):  # (an assert, or the suite's own `pytest.fail` message)
            return True
    return False


@pytest.mark.parametrize("store_class", [MemoryStore, KeepsWhatItIsGiven, SharesWhatItLists])
async def test_a_store_sharing_records_with_its_callers_fails_the_suite(store_class: type[Store]) -> None:
    assert await _fails(store_class(), "test_records_are_not_shared_with_callers") == (store_class is not MemoryStore)


async def test_a_store_listing_sessions_without_their_budget_fails_the_suite() -> None:
    assert not await _fails(MemoryStore(), "test_spending_moves_the_sessions_updated_at")
    assert await _fails(ListsSessionsAsCreated(), "test_spending_moves_the_sessions_updated_at")


class SortsByLocalTimestamp(MemoryStore):
    """Lists sessions by `created_at.timestamp()`, which takes a naive time as the machine's local time."""

    async def list_sessions(self, user_id: str, *, limit: int = 100, offset: int = 0) -> list[Session]:
        found = sorted(await super().list_sessions(user_id, limit=2**63 - 1), key=lambda s: s.created_at.timestamp())
        return found[offset : offset + limit]


class SortsByIsoText(MemoryStore):
    """Lists sessions by `created_at.isoformat()` (a text index), which puts 17:30+05:00 after 12:45 UTC."""

    async def list_sessions(self, user_id: str, *, limit: int = 100, offset: int = 0) -> list[Session]:
        found = sorted(await super().list_sessions(user_id, limit=2**63 - 1), key=lambda s: s.created_at.isoformat())
        return found[offset : offset + limit]


@pytest.mark.parametrize("store_class", [MemoryStore, SortsByLocalTimestamp, SortsByIsoText])
async def test_a_store_sorting_times_by_their_text_or_as_local_fails_the_suite(store_class: type[Store]) -> None:
    # docs/stores.md says the suite checks that a naive created_at is taken as UTC whatever the machine's zone; with
    # every time in UTC and the tests run in UTC (a CI machine), such stores passed it
    test = "test_listings_order_created_at_by_the_moment_it_names"
    zone = os.environ.get("TZ"), time.tzname
    assert await _fails(store_class(), test) == (store_class is not MemoryStore)
    assert (os.environ.get("TZ"), time.tzname) == zone  # (the process's own zone is back)


class DropsSinceForOneOrchestration(MemoryStore):
    """Lists one orchestration's events from its first whatever `since` says (a query on the orchestration's events
    that forgot the session's cursor): a stream of one run resumed from its last seq replays every event."""

    async def list_events(
        self, session_id: str, *, since: int = 0, limit: int = 1000, orchestration_id: str | None = None
    ) -> list[Event]:
        since = 0 if orchestration_id is not None else since
        return await super().list_events(session_id, since=since, limit=limit, orchestration_id=orchestration_id)


@pytest.mark.parametrize("store_class", [MemoryStore, DropsSinceForOneOrchestration])
async def test_a_store_ignoring_since_for_one_orchestration_fails_the_suite(store_class: type[Store]) -> None:
    # the suite's `since` with an orchestration id (1) was below the orchestration's first event (2): it passed
    test = "test_list_events_since_limit_and_orchestration"
    assert await _fails(store_class(), test) == (store_class is not MemoryStore)


class PagesOnlyBySession(MemoryStore):
    """Pages `list_orchestrations` by session only: by thread, or over every orchestration, it lists them all."""

    async def list_orchestrations(
        self, *, session_id: str | None = None, thread_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Orchestration]:
        if session_id is None:
            limit, offset = 2**63 - 1, 0
        return await super().list_orchestrations(session_id=session_id, thread_id=thread_id, limit=limit, offset=offset)


@pytest.mark.parametrize("store_class", [MemoryStore, PagesOnlyBySession])
async def test_a_store_paging_orchestrations_only_by_session_fails_the_suite(store_class: type[Store]) -> None:
    # the suite paged `list_orchestrations` only with a session id: such a store passed it
    assert await _fails(store_class(), "test_orchestrations") == (store_class is not MemoryStore)


class StartReservesAgainstReservationsOnly(MemoryStore):
    """`start`'s reservation weighs the session's reservations but not what it has spent (`reserved + amount <=
    limit`): a run started in a session that had spent most of its budget was granted its first call's worst case."""

    async def start(
        self,
        orchestration: Orchestration,
        *,
        thread: Thread | None = None,
        owner: str,
        ttl_s: float,
        events: Sequence[Event] = (),
        reserve: float = 0.0,
    ) -> Started:
        check_start(orchestration, thread, ttl_s, events, reserve)
        started = await super().start(orchestration, thread=thread, owner=owner, ttl_s=ttl_s, events=events)
        if not reserve:
            return started
        session = started.session
        if session.settings.cost_limit is not None and session.reserved_cost + reserve > session.settings.cost_limit:
            return started._replace(reserved=False)
        budget, key = self._budgets[orchestration.session_id], (orchestration.session_id, orchestration.id)
        budget.reserved += to_pico(reserve)
        self._reservations[key] = self._reservations.get(key, 0) + to_pico(reserve)
        return Started(await self.get_session(orchestration.session_id), True)


class StartLeasesForTtlMilliseconds(MemoryStore):
    """`start` gives the lease `ttl_s` taken as milliseconds (a unit slip): the run of a process that dies after its
    start stays leased a thousand times too long, not resumed by another."""

    async def start(
        self,
        orchestration: Orchestration,
        *,
        thread: Thread | None = None,
        owner: str,
        ttl_s: float,
        events: Sequence[Event] = (),
        reserve: float = 0.0,
    ) -> Started:
        started = await super().start(
            orchestration, thread=thread, owner=owner, ttl_s=ttl_s, events=events, reserve=reserve
        )
        await self.claim(orchestration.id, owner, ttl_s * 1000)
        return started


@pytest.mark.parametrize(
    ("store_class", "test"),
    [
        (StartReservesAgainstReservationsOnly, "test_start_reserves_within_what_the_session_has_spent"),
        (StartLeasesForTtlMilliseconds, "test_a_started_orchestrations_lease_expires_after_ttl_s"),
    ],
)
async def test_a_store_whose_start_gets_the_budget_or_the_lease_wrong_fails_the_suite(
    store_class: type[Store], test: str
) -> None:
    # the suite's starts reserved only in sessions that had spent nothing, and never waited for a start's lease to
    # expire: both stores passed it
    assert not await _fails(MemoryStore(), test)
    assert await _fails(store_class(), test)


class WithoutTheOptionalKeyMethods(MemoryStore):
    """A store written from the abstract methods alone: `list_api_keys`, `revoke_api_key` and `touch_api_key` are
    `Store`'s defaults (optional: the first two raise `NotImplementedError`, the last records nothing)."""

    list_api_keys = Store.list_api_keys
    revoke_api_key = Store.revoke_api_key
    touch_api_key = Store.touch_api_key


class TestAStoreWithoutTheOptionalKeyMethodsPassesTheSuite(StoreContract):
    # it failed with NotImplementedError (and with the default `touch_api_key`, which its docstring allows, on
    # `last_used_at`), although docs/stores.md asks a store for the abstract methods only
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        return WithoutTheOptionalKeyMethods


class NeverTouches(MemoryStore):
    async def touch_api_key(self, key_id: str, when: datetime) -> None:
        return None


async def test_a_touch_api_key_of_its_own_must_record_the_time() -> None:
    assert await _fails(NeverTouches(), "test_api_keys_are_listed_revoked_and_touched")


class StatusKeepsUpdatedAt(MemoryStore):
    """Changes a session's status without moving its `updated_at` (as every built-in store does): the server's
    answer to `PATCH /api/sessions/{id}/status`, and every later read, said the session was last changed when it
    was made."""

    async def set_session_status(self, session_id: str, status: Any) -> Session:
        before = (await self.get_session(session_id)).updated_at
        changed = await super().set_session_status(session_id, status)
        self._sessions[session_id].updated_at = before
        return changed.model_copy(update={"updated_at": before})


async def test_a_status_change_must_move_the_sessions_updated_at() -> None:
    assert not await _fails(MemoryStore(), "test_session_status_transitions")
    assert await _fails(StatusKeepsUpdatedAt(), "test_session_status_transitions")


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_the_suite_runs_as_docs_stores_md_shows_in_either_asyncio_mode(tmp_path: Path, mode: str) -> None:
    # in pytest-asyncio's strict mode (its default, which a project may keep for its own tests) every test of the
    # suite errored: "requested an async fixture 'store', with no plugin or hook that handled it"
    (tmp_path / "pytest.ini").write_text(
        f"[pytest]\nasyncio_mode = {mode}\nasyncio_default_fixture_loop_scope = function\n"
    )
    (tmp_path / "test_my_store.py").write_text(
        "import pytest\n\n"
        "from orchestratex.stores import MemoryStore\n"
        "from orchestratex.testing.store_contract import StoreContract, StoreFactory\n\n\n"
        "class TestMyStore(StoreContract):\n"
        "    @pytest.fixture\n"
        "    def store_factory(self) -> StoreFactory:\n"
        "        return MemoryStore\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert re.search(r"^\d+ passed in ", done.stdout.splitlines()[-1]), done.stdout[-500:]


class ScoresItsJudges(MemoryStore):
    """Averages every scored call of a model into `mean_score_by_domain`, its judge calls' verdicts too (a judge's
    score is the verdict it gave, not one it earned: docs/stores.md and `Store.model_stats` say generations only)."""

    async def model_stats(self, model_name: str) -> ModelStats:
        stats = await super().model_stats(model_name)
        by_domain: dict[str, list[float]] = {}
        for c in self._calls_by_model.get(model_name, ()):
            if c[C_SCORE] is not None:
                by_domain.setdefault(c[C_DOMAIN], []).append(c[C_SCORE])
        return stats.model_copy(update={"mean_score_by_domain": {d: sum(s) / len(s) for d, s in by_domain.items()}})


async def test_a_store_counting_judge_verdicts_in_a_models_scores_fails_the_suite() -> None:
    # (it passed: the suite asked model_stats only of models that generate, never of its judge)
    assert not await _fails(MemoryStore(), "test_model_stats")
    assert await _fails(ScoresItsJudges(), "test_model_stats")


class RemembersClaims(MemoryStore):
    """A `MemoryStore` that remembers the owner of every lease it gave (`claimed`, by orchestration id)."""

    def __init__(self) -> None:
        super().__init__()
        self.claimed: dict[str, str] = {}

    async def claim(self, orchestration_id: str, owner: str, ttl_s: float) -> bool:
        self.claimed[orchestration_id] = owner
        return await super().claim(orchestration_id, owner, ttl_s)


class AsksAboutEndedRuns(RemembersClaims):
    """Asks `gone` about the owner of every lease it gave, an ended run's too (docs/stores.md: only those of `pending`
    or `running` runs whose lease has not expired)."""

    async def expire_leases_of(self, gone: Callable[[str], bool]) -> set[str]:
        for oid, owner in self.claimed.items():
            if (await self.get_orchestration(oid)).status in TERMINAL_ORCHESTRATION_STATUSES:
                gone(owner)
        return await super().expire_leases_of(gone)


class ReleasesTheLeasesOfOwnersGone(RemembersClaims):
    """Frees the runs of an owner gone by releasing their leases, which forgets the owner: its commits are then refused
    (docs/stores.md: the owner stays recorded, and fences as any expired lease does until another claims the run)."""

    async def expire_leases_of(self, gone: Callable[[str], bool]) -> set[str]:
        freed = await super().expire_leases_of(gone)
        for oid, owner in self.claimed.items():
            if owner in freed:
                await self.release(oid, owner)
        return freed


@pytest.mark.parametrize("store_class", [MemoryStore, AsksAboutEndedRuns, ReleasesTheLeasesOfOwnersGone])
async def test_a_store_expiring_the_leases_of_owners_gone_wrongly_fails_the_suite(store_class: type[Store]) -> None:
    # (both passed: the ended run's lease was held by an owner also gone, and no commit followed the expiry)
    test = "test_expire_leases_of_frees_the_runs_of_owners_gone"
    assert await _fails(store_class(), test) == (store_class is not MemoryStore)


class TruncatesScoreUnits(MemoryStore):
    """Sums final scores as `int(score * 1e9)`, truncated where `aggregate.score_units` rounds: exact whatever the order
    of the additions, but 8.2 counts as 8.199999999 (docs/stores.md: `int(score * 1e9 + 0.5)`)."""

    async def _truncated(self, got: Analytics, runs: list[Orchestration]) -> Analytics:
        sums: dict[str | None, list[int]] = {}
        for o in runs:
            if counted_score(o.final_score):
                for key in (None, o.domain or "general"):
                    acc = sums.setdefault(key, [0, 0])
                    acc[0] += int(o.final_score * 1e9)
                    acc[1] += 1
        domains = [
            d.model_copy(update={"mean_final_score": mean_score(*sums.get(d.domain, [0, 0]))}) for d in got.domains
        ]
        return got.model_copy(update={"mean_final_score": mean_score(*sums.get(None, [0, 0])), "domains": domains})

    async def session_analytics(self, session_id: str) -> Analytics:
        runs = await self.list_orchestrations(session_id=session_id, limit=10**6)
        return await self._truncated(await super().session_analytics(session_id), runs)

    async def user_analytics(self, user_id: str) -> Analytics:
        runs = [o for o in await self.list_orchestrations(limit=10**6) if o.user_id == user_id]
        return await self._truncated(await super().user_analytics(user_id), runs)


async def test_a_store_truncating_score_units_fails_the_suite() -> None:
    # (it passed: none of the suite's final scores was one whose product by 1e9 falls just below a whole number)
    test = "test_mean_final_scores_are_exact_whatever_the_order_of_addition"
    assert not await _fails(MemoryStore(), test)
    assert await _fails(TruncatesScoreUnits(), test)


class StartsSessionsUnspent(MemoryStore):
    """Keeps a new session's `total_cost` as 0, whatever it was created with (the money kept apart from the document,
    and started from nothing)."""

    async def create_session(self, session: Session) -> Session:
        return await super().create_session(session.model_copy(update={"total_cost": 0.0}))


async def test_a_store_dropping_a_new_sessions_spending_fails_the_suite() -> None:
    # (it passed: every session of the suite was created with nothing spent)
    assert not await _fails(MemoryStore(), "test_session_round_trip")
    assert await _fails(StartsSessionsUnspent(), "test_session_round_trip")
