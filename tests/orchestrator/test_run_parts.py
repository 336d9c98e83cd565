"""Parts of the run's hot path that must behave exactly as the slower code they replace."""

from __future__ import annotations

from orchestratex.orchestrator._ledger import assign as _assign
from orchestratex.records import Iteration, Orchestration
from orchestratex.usage import Usage


def test_assigning_fields_at_once_is_pydantic_assignment() -> None:
    fields = {"response": "an answer", "usage": Usage(input_tokens=3), "cost": 0.25, "phase": "generated"}
    one_by_one, at_once = (
        Iteration(index=1, model_name="p:m", prompt="q"),
        Iteration(index=1, model_name="p:m", prompt="q"),
    )
    for name, value in fields.items():
        setattr(one_by_one, name, value)
    _assign(at_once, **fields)
    assert at_once == one_by_one
    assert at_once.model_fields_set == one_by_one.model_fields_set
    assert at_once.model_dump(exclude_unset=True) == one_by_one.model_dump(exclude_unset=True)


def test_assigning_a_document_keeps_its_serialisation() -> None:
    doc = Orchestration(thread_id="t", session_id="s", user_id="u", prompt="q")
    expected = doc.model_copy(deep=True)
    expected.stop_reason, expected.error, expected.final_score = "threshold", None, 9.0
    _assign(doc, stop_reason="threshold", error=None, final_score=9.0)
    assert doc.model_dump_json(by_alias=True) == expected.model_dump_json(by_alias=True)
    assert doc.model_fields_set == expected.model_fields_set
