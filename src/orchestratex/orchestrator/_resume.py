"""`Orchestrator.resume_pending`: the runs a dead process left unfinished, resumed side by side (a bounded number
at once), each on its own: one that fails is logged and reported, and the others go on."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .._plain import is_whole
from ..exceptions import Conflict, UserError
from ._driving import stored_events
from ._lifecycle import ensure_ready
from ._result import RunResult

if TYPE_CHECKING:
    from .orchestrator import Orchestrator

__all__ = ["resumable_here", "resume_pending"]

logger = logging.getLogger("orchestratex.orchestrator")


async def resume_pending(orchestrator: Orchestrator, limit: int, concurrency: int) -> list[RunResult]:
    """Drive up to `limit` resumable orchestrations, `concurrency` at a time; their results in the store's order.
    One another process claimed first is left out; one whose run raised is logged, and its result is the
    orchestration as the store has it afterwards (left out when even that cannot be read). A `UserError` (this
    orchestrator refuses to run: it is closing, say) is raised once the others have returned."""
    for name, value in (("limit", limit), ("concurrency", concurrency)):
        if not is_whole(value) or value < 1:
            raise UserError(f"resume_pending({name}=...) must be an int >= 1, not {value!r}")
    limit, concurrency = int(limit), int(concurrency)  # (numpy's integers, which a SQLite query cannot take)
    await ensure_ready(orchestrator)
    listed = await resumable_here(orchestrator, limit)
    # with those this orchestrator prepared: leased to it for a while (`prepare`), the store does not list them yet
    ids = list(dict.fromkeys([*listed, *orchestrator._leases.still_prepared()]))[:limit]
    gate = asyncio.Semaphore(concurrency)
    results = await asyncio.gather(*(_resume(orchestrator, oid, gate) for oid in ids), return_exceptions=True)
    for result in results:  # a `UserError`, that the orchestrator refused the run (it is closing, say), is not the
        if isinstance(result, BaseException):  # run's own failure: raised once every other run has returned
            raise result
    return [r for r in results if isinstance(r, RunResult)]


async def resumable_here(orchestrator: Orchestrator, limit: int) -> list[str]:
    """The `limit` oldest orchestrations the store lists as resumable, past those this orchestrator leaves to one of
    another kind (`OtherModels`: begun on the simulator, and this one calls real models, or the other way round).
    Those stay resumable and come first at every pass: a server given provider keys on a store where more than 100
    simulated runs were left (a load test killed) listed only them, and never resumed the runs behind them."""
    others = orchestrator._said_other_kind
    if not others:
        return await orchestrator.store.list_resumable(limit=limit)
    asked = limit + len(others)
    listed = await orchestrator.store.list_resumable(limit=asked)
    if len(listed) < asked:  # (the whole list: those not in it ended, or another process drives them)
        others.intersection_update(listed)
    return [oid for oid in listed if oid not in others][:limit]


async def _resume(orchestrator: Orchestrator, oid: str, gate: asyncio.Semaphore) -> RunResult | None:
    async with gate:
        try:
            return await orchestrator.drive(oid)
        except Conflict:  # another process (or this one) runs it
            return None
        except UserError:  # refused by this orchestrator (closing, or runs under way on another loop): for all of them
            raise
        except Exception as exc:
            logger.exception(
                "resuming orchestration %s failed: %s: %s",
                oid,
                type(exc).__name__,
                exc,
                extra={"orchestration_id": oid},
            )
        try:
            doc = await orchestrator.store.get_orchestration(oid)
            return RunResult(doc, await stored_events(orchestrator.store, doc), orchestrator.simulated)
        except Exception as exc:
            logger.warning(
                "orchestration %s, whose resumption failed, could not be read: %s",
                oid,
                exc,
                extra={"orchestration_id": oid},
            )
            return None
