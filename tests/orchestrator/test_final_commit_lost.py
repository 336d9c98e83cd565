"""A run whose final commit the store did not take (unreachable past the run's store retries) writes its ending
again as it ended: it was stored `error` with the store's error, its real stop reason (`threshold`) lost."""

from __future__ import annotations

import json

from orchestratex import FunctionProvider, GenerationRequest, ModelCatalog, ModelProfile, Orchestrator
from orchestratex.orchestrator import RetryPolicy

from .faults import EndLost


async def answer(request: GenerationRequest) -> str:
    if request.purpose == "judge":
        return json.dumps({"score": 9.5, "feedback": "ok"})
    return "Paris."


async def test_a_final_commit_the_store_refused_is_written_again_as_the_run_ended() -> None:
    store = EndLost()
    catalog = ModelCatalog(
        [
            ModelProfile(name="function:a", cost_per_1k_tokens=0.001, quality=8.0),
            ModelProfile(name="function:b", cost_per_1k_tokens=0.001, quality=7.5),
        ]
    )
    orch = Orchestrator(
        providers=[FunctionProvider(answer)],
        catalog=catalog,
        store=store,
        store_retry=RetryPolicy(max_attempts=2, initial_wait=0, max_wait=0),
        evaluation_threshold=9.0,
        max_iterations=3,
    )
    session = await orch.create_session("u", cost_limit=1.0)
    for _ in range(2):  # (a second run on the same orchestrator ends the same way)
        store.failures = 2  # (both tries of the final commit refused; its second writing taken)
        result = await orch.run("What is the capital of France?", session=session)
        assert (result.status, result.stop_reason, result.orchestration.error) == ("completed", "threshold", None)
        stored = await store.get_orchestration(result.orchestration.id)
        assert (stored.status, stored.stop_reason, stored.error) == ("completed", "threshold", None)
        (ended,) = [
            e
            for e in await store.list_events(session.id, orchestration_id=stored.id)
            if e.type == "orchestration_completed"
        ]
        assert ended.stop_reason == "threshold"
    await orch.aclose()
