"""One soak process (run by test_soak.py): an Orchestrator on a shared SQLite store, driving orchestrations in the
given sessions for `seconds`, under random store faults (I/O errors and a full disk inside its transactions),
provider faults, overbilling, cancellations and `wait_for` timeouts; it resumes what others abandoned.

Prints one JSON line of counters at the end, and keeps them in `counts<SEED>.json` next to the database
meanwhile (so a worker killed mid-run still reports).  Usage: soak_worker.py DB SECONDS SEED SESSION_ID...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from orchestratex import Generation, GenerationRequest, Orchestrator, SimulatedProvider, SQLiteStore
from orchestratex.exceptions import OrchestrateXError, StoreUnavailable
from orchestratex.orchestrator import RetryPolicy
from orchestratex.providers.simulated import Faults
from orchestrator.faults import FaultyConnection, io_error  # type: ignore[import-not-found]  # (tests/ on the path)

_WRITE = ("INSERT", "UPDATE", "DELETE")
_PROMPTS = ["Write a haiku", "Sort a list in Python", "Explain TCP", "What is 17 * 23?"]


class Overbilling(SimulatedProvider):
    """Now and then reports ten times the output tokens the request allowed."""

    def __init__(self, rng: random.Random, counts: Counter[str], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.rng, self.counts = rng, counts

    async def generate(self, request: GenerationRequest) -> Generation:
        self.counts["requests"] += 1
        gen = await super().generate(request)
        if self.rng.random() < 0.01:
            self.counts["overbilled"] += 1
            gen.usage = gen.usage.model_copy(update={"output_tokens": request.max_output_tokens * 10})
        return gen


class Soak:
    def __init__(self, db: str, seconds: float, seed: int, sessions: list[str]) -> None:
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self.sessions = sessions
        self.end = time.monotonic() + seconds
        self.full_until = 0.0
        self.store = SQLiteStore(db, busy_timeout=0.05)
        self.report = Path(db).with_name(f"counts{seed}.json")
        faults = Faults(timeout_rate=0.03, server_error_rate=0.03, rate_limit_rate=0.02, retry_after=0.01)
        self.orch = Orchestrator(
            providers=[Overbilling(self.rng, self.counts, seed=seed, latency_scale=0.02, faults=faults)],
            store=self.store,
            lease_ttl_s=1.0,
            retry=RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.02),
            store_retry=RetryPolicy(max_attempts=8, initial_wait=0.02, max_wait=0.3),
            max_output_tokens=400,
        )

    def fail(self, sql: str) -> BaseException | None:
        """The store fault for this statement, if any: a full disk for a while, or now and then an I/O error."""
        if not sql.lstrip().upper().startswith(_WRITE):
            return None
        if time.monotonic() < self.full_until:
            self.counts["store_full"] += 1
            exc = sqlite3.OperationalError("database or disk is full")
            exc.sqlite_errorcode, exc.sqlite_errorname = sqlite3.SQLITE_FULL, "SQLITE_FULL"
            return exc
        if self.rng.random() < 0.02:
            self.counts["store_io_errors"] += 1
            injected: BaseException = io_error()
            return injected
        return None

    async def open(self) -> None:
        for attempt in range(50):  # another process may hold the write lock while this one creates its tables
            try:
                await self.store.open()
                break
            except StoreUnavailable:
                self.counts["open_retries"] += 1
                await asyncio.sleep(0.1 * attempt)
        FaultyConnection.install(self.store, self.fail)

    async def one(self) -> None:
        rng, orch, counts = self.rng, self.orch, self.counts
        doc = await orch.prepare(
            rng.choice(_PROMPTS),
            session=rng.choice(self.sessions),
            max_iterations=rng.randint(1, 3),
            evaluation_threshold=rng.uniform(7.0, 9.9),
        )
        counts["runs"] += 1
        how = rng.random()
        try:
            if how < 0.1:
                await asyncio.wait_for(orch.drive(doc), rng.uniform(0.0, 0.3))
            elif how < 0.2:
                task = orch.start(doc)
                await asyncio.sleep(rng.uniform(0.0, 0.3))
                counts["cancelled"] += await orch.cancel(doc.id)
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            else:
                counts[f"status_{(await orch.drive(doc)).status}"] += 1
        except TimeoutError:
            counts["timeouts"] += 1
        except OrchestrateXError as exc:
            counts[f"raised_{type(exc).__name__}"] += 1

    async def lane(self) -> None:
        while time.monotonic() < self.end:
            try:
                await self.one()
            except OrchestrateXError as exc:  # prepare itself met the faults
                self.counts[f"prepare_{type(exc).__name__}"] += 1
                await asyncio.sleep(0.05)

    async def chaos(self) -> None:
        while time.monotonic() < self.end:
            await asyncio.sleep(self.rng.uniform(0.5, 2.0))
            self.full_until = time.monotonic() + self.rng.uniform(0.05, 0.4)  # the disk is full for a moment
            self.counts["full_windows"] += 1
            with contextlib.suppress(OrchestrateXError):
                self.counts["resumed"] += len(await self.orch.resume_pending())
            self.save()

    def save(self) -> None:
        partial = self.report.with_suffix(".tmp")
        partial.write_text(json.dumps(dict(self.counts)))
        partial.replace(self.report)

    async def main(self) -> None:
        await self.open()
        async with self.orch:
            await asyncio.gather(*(self.lane() for _ in range(4)), self.chaos())
        self.save()
        print(json.dumps(dict(self.counts)), flush=True)


if __name__ == "__main__":
    asyncio.run(Soak(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]).main())
