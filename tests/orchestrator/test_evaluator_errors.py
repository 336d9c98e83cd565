"""A custom evaluator's own error (an exception, or something that is not a valid `Evaluation`): `run()` re-raises
it, the run is stored `failed` with its money settled — nothing left reserved, every call paid recorded."""

from __future__ import annotations

import json
import math

import pytest

from orchestratex import (
    Evaluation,
    EvaluationTask,
    Evaluator,
    FunctionProvider,
    Generation,
    GenerationRequest,
    MemoryStore,
    Message,
    Orchestrator,
    SQLiteStore,
    Store,
)

from ..helpers import NO_WAIT, catalog


class Faulty(Evaluator):
    def __init__(self, fault: str) -> None:
        self.fault = fault

    async def evaluate(self, task: EvaluationTask, response: Generation) -> Evaluation:
        if self.fault == "judged, then raises":  # a paid judge call, then the evaluator's bug
            judge = task.judges[0]
            request = GenerationRequest(
                model=judge, messages=[Message(role="user", content="judge")], max_output_tokens=20, purpose="judge"
            )
            await task.call(judge, request)
            raise RuntimeError("lost the verdict")
        if self.fault == "raises":
            raise KeyError("score")
        if self.fault == "builds an invalid Evaluation":
            return Evaluation(score=math.nan, feedback="?", judge_models=[])
        if self.fault == "returns a dict":
            return {"score": 9}  # type: ignore[return-value]
        if self.fault == "returns an unvalidated Evaluation":
            return Evaluation.model_construct(score=42.0, feedback="!", judge_models=["me"])
        return Evaluation(score=9, feedback="ok", judge_models=["me"], cost=-1.0)  # a negative cost


def answer(request: GenerationRequest) -> str:
    return json.dumps({"score": 9, "feedback": "ok"}) if request.purpose == "judge" else "an answer"


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
@pytest.mark.parametrize(
    ("fault", "raised", "message", "calls"),
    [
        ("raises", KeyError, "'score'", 1),
        ("judged, then raises", RuntimeError, "lost the verdict", 2),
        ("builds an invalid Evaluation", ValueError, "validation error for Evaluation", 1),
        ("returns a dict", TypeError, "Faulty.evaluate returned dict, not an Evaluation", 1),
        (
            "returns an unvalidated Evaluation",
            ValueError,
            "Faulty.evaluate returned an invalid Evaluation: score: Input should be less than or equal to 10",
            1,
        ),
        ("reports a negative cost", ValueError, "Faulty.evaluate returned an invalid Evaluation: cost: -1.0", 1),
    ],
)
async def test_the_evaluators_error_is_raised_and_the_run_is_settled(
    fault: str, raised: type[Exception], message: str, calls: int, store_kind: str, tmp_path: object
) -> None:
    store: Store = MemoryStore() if store_kind == "memory" else SQLiteStore(f"{tmp_path}/runs.db")
    orch = Orchestrator(
        providers=[FunctionProvider(answer)],
        catalog=catalog("a", "b"),
        evaluator=Faulty(fault),
        store=store,
        retry=NO_WAIT,
    )
    async with orch:
        session = await orch.create_session(cost_limit=1.0)
        with pytest.raises(raised, match=message) as caught:
            await orch.run("Hello", session=session)
        (doc,) = await store.list_orchestrations(session_id=session.id)  # readable back
        assert doc.status == "failed" and doc.stop_reason == "error"
        assert (doc.error or "").startswith(f"{type(caught.value).__name__}: ")
        (it,) = doc.iterations
        assert it.phase == "failed" and it.evaluation is None and it.response == "an answer"
        assert len(it.errors) == 1 and it.errors[0].startswith("evaluation: ")
        after = await store.get_session(session.id)
        assert after.reserved_cost == 0  # nothing left reserved
        assert after.total_cost == pytest.approx(doc.total_cost)
        assert doc.total_cost > it.cost > 0 if calls == 2 else doc.total_cost == pytest.approx(it.cost)  # the judge's
        usage = await store.session_analytics(session.id)
        assert sum(m.calls for m in usage.models) == calls  # every paid call recorded
        assert usage.total_cost == pytest.approx(doc.total_cost)
