"""Statistics: the routers' outcome sums, and analytics over sessions, users and models (see `_analytics.py`)."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from orchestratex.exceptions import NotFound, StoreError
from orchestratex.stores import Analytics, ModelStats, RoutingStat
from orchestratex.stores.checks import check_name

from . import _analytics
from ._base import CAS_ATTEMPTS, MongoBase
from ._once import KEEP

__all__ = ["Statistics"]

_Doc = dict[str, Any]


class Statistics(MongoBase):
    """The `Store` methods of router statistics and analytics."""

    # -- router statistics --------------------------------------------------------------------
    async def record_routing_outcome(
        self,
        router: str,
        *,
        domain: str,
        model_name: str,
        score: float,
        cost: float,
        latency_ms: float,
        output_tokens: int,
    ) -> None:
        query = {"router": router, "domain": domain, "model_name": model_name}
        increments = {
            "n": 1,
            "score_sum": float(score),
            "score_sq_sum": float(score) * float(score),
            "cost_sum": float(cost),
            "latency_ms_sum": float(latency_ms),
            "output_tokens_sum": int(output_tokens),
        }
        token, stats = ObjectId(), self._c.routing_stats  # applied once despite lost replies (see `_once.py`)
        update = {"$inc": increments, "$push": {"tokens": {"$each": [token], "$slice": -KEEP}}}
        for _ in range(CAS_ATTEMPTS):
            try:
                await self._run(
                    "recording a routing outcome",
                    lambda: stats.update_one({**query, "tokens": {"$ne": token}}, update, upsert=True),
                )
                return
            except DuplicateKeyError:
                # a concurrent first upsert won (now it exists: increment it), or an earlier attempt of ours was
                # applied (the filter skips it, so the upsert tried to create it anew)
                doc = await self._run("reading routing statistics", lambda: stats.find_one(query, {"tokens": 1}))
                if doc is not None and token in doc.get("tokens", []):
                    return
        raise StoreError("the routing statistics could not be updated; try again")

    async def routing_stats(self, router: str) -> list[RoutingStat]:
        stats = self._c.routing_stats

        async def read() -> list[_Doc]:
            cursor = stats.find({"router": router}).sort([("domain", 1), ("model_name", 1)])
            return await cursor.to_list(None)

        return [
            RoutingStat(
                domain=d["domain"],
                model_name=d["model_name"],
                n=int(d["n"]),
                score_sum=float(d["score_sum"]),
                score_sq_sum=float(d["score_sq_sum"]),
                cost_sum=float(d["cost_sum"]),
                latency_ms_sum=float(d["latency_ms_sum"]),
                output_tokens_sum=int(d["output_tokens_sum"]),
            )
            for d in await self._run("reading routing statistics", read)
        ]

    # -- analytics ----------------------------------------------------------------------------
    async def session_analytics(self, session_id: str) -> Analytics:
        c = self._c
        if not await self._exists(c.sessions, session_id):
            raise NotFound(f"no session {session_id!r}")
        threads = await self._count(c.threads, {"session_id": session_id})
        return await _analytics.scope_analytics(
            self._run, c.orchestrations, c.calls, "session", session_id, sessions=1, threads=threads
        )

    async def user_analytics(self, user_id: str) -> Analytics:
        check_name("user_id", user_id)
        c = self._c
        sessions = await self._count(c.sessions, {"user_id": user_id})
        threads = await self._count(c.threads, {"user_id": user_id})
        return await _analytics.scope_analytics(
            self._run, c.orchestrations, c.calls, "user", user_id, sessions=sessions, threads=threads
        )

    async def model_stats(self, model_name: str) -> ModelStats:
        check_name("model_name", model_name)
        return await _analytics.model_stats(self._run, self._c.calls, model_name)
