"""Parts of the run's hot path that must behave exactly as the slower code they replace."""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from orchestratex._seal import made, seal, share
from orchestratex.catalog import ModelProfile
from orchestratex.events import ModelSelected, OrchestrationCompleted
from orchestratex.orchestrator._ledger import assign as _assign
from orchestratex.providers import GenerationRequest, Message
from orchestratex.records import CallRecord, Evaluation, Iteration, JudgeVerdict, Orchestration
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


_MADE_CASES: list[tuple[type[BaseModel], dict[str, object]]] = [
    (Iteration, {"index": 2, "model_name": "p:m", "reasoning": "cheapest", "prompt": "q"}),
    (
        CallRecord,
        {
            "orchestration_id": "o",
            "session_id": "s",
            "user_id": "u",
            "model_name": "p:m",
            "role": "judge",
            "domain": "coding",
            "cost": 0.25,
            "catalog_cost": 0.25,
            "reported_cost": None,
            "input_tokens": 3,
            "output_tokens": 4,
            "latency_ms": 1.5,
            "score": None,
            "error": None,
            "created_at": datetime(2026, 1, 2, tzinfo=UTC),
        },
    ),
    (
        GenerationRequest,
        {
            "model": ModelProfile(name="p:m", cost_per_1k_tokens=0.001),
            "messages": [Message(role="user", content="q")],
            "max_output_tokens": 100,
            "temperature": None,
            "stop": None,
            "json_output": False,
            "purpose": "generate",
            "domain": "general",
        },
    ),
    (
        ModelSelected,
        {
            "orchestration_id": "o",
            "thread_id": "t",
            "session_id": "s",
            "model_name": "p:m",
            "reasoning": "r",
            "iteration": 1,
            "scores": {"p:m": 1.5},
        },
    ),
    (
        OrchestrationCompleted,
        {
            "orchestration_id": "o",
            "thread_id": "t",
            "session_id": "s",
            "final_response": "a",
            "iterations": 1,
            "final_score": None,
            "total_cost": 0.5,
            "stop_reason": "threshold",
            "model_name": "p:m",
        },
    ),
]


@pytest.mark.parametrize(("cls", "values"), _MADE_CASES, ids=[c.__name__ for c, _ in _MADE_CASES])
def test_made_records_are_the_validated_ones_sealed(cls: type[BaseModel], values: dict[str, object]) -> None:
    validated = cls(**values)
    seal((validated,))
    fast = made(cls, **values)
    for record in (validated, fast):  # (an event's clock differs)
        if "timestamp" in record.__dict__:
            record.__dict__["timestamp"] = datetime(2026, 1, 2, tzinfo=UTC)
    assert list(fast.__dict__) == list(validated.__dict__)  # (the order the JSON follows)
    assert fast == validated
    assert fast.model_dump_json() == validated.model_dump_json()
    assert fast.model_fields_set == validated.model_fields_set == set(cls.model_fields)
    assert fast.model_dump(exclude_unset=True) == fast.model_dump()


def test_made_records_seal_what_their_default_factories_make() -> None:
    it = made(Iteration, index=1, model_name="p:m", prompt="q")
    assert it.usage.model_fields_set == set(Usage.model_fields)
    assert it.errors == [] and it.errors is not made(Iteration, index=1, model_name="p:m", prompt="q").errors


def test_made_refuses_a_misspelt_or_missing_field() -> None:
    with pytest.raises(TypeError, match="modle_name"):
        made(Iteration, index=1, modle_name="p:m", prompt="q")
    with pytest.raises(TypeError, match="model_name"):
        made(Iteration, index=1, prompt="q")


@pytest.mark.parametrize(("cls", "values"), _MADE_CASES, ids=[c.__name__ for c, _ in _MADE_CASES])
def test_made_records_are_each_their_own_whatever_their_dictionaries_share(
    cls: type[BaseModel], values: dict[str, object]
) -> None:
    """A made record's dictionary shares its keys with its class's other instances (about half the bytes): what is
    set on one record, by assignment or in its dictionary, shows on no other, nor on the records made next; copies,
    pickles and dumps are those of any pydantic model."""
    first, second = made(cls, **values), made(cls, **values)
    name = next(n for n, v in values.items() if isinstance(v, str))
    setattr(first, name, "changed")
    second.__dict__[name] = "changed too"
    third = made(cls, **values)
    assert (getattr(first, name), getattr(second, name), getattr(third, name)) == (
        "changed",
        "changed too",
        values[name],
    )
    assert list(first.__dict__) == list(third.__dict__) == list(cls.model_fields)
    assert pickle.loads(pickle.dumps(first)) == first
    assert copy.deepcopy(second) == second and second.model_copy(update={name: "x"}) != second
    assert cls.model_validate_json(third.model_dump_json()).model_dump() == third.model_dump()


def test_sealing_or_sharing_what_pydantic_built_changes_none_of_its_values() -> None:
    """The first `seal` of a record pydantic built (or `share` of a request, generation or usage) gives it a
    dictionary sharing its class's keys: the same values, in the same order, the same JSON."""
    verdict = JudgeVerdict(judge_model="p:j", score=7, usage=Usage(input_tokens=3, output_tokens=2))
    it = Iteration(index=1, model_name="p:m", prompt="q", response="a", usage=Usage(input_tokens=5))
    it.evaluation = Evaluation(score=7.0, feedback="f", judge_models=["p:j"], verdicts=[verdict])
    doc = Orchestration(thread_id="t", session_id="s", user_id="u", prompt="q", iterations=[it])
    before, copied = doc.model_dump_json(), doc.model_copy(deep=True)
    seal((doc,))
    assert doc.model_dump_json() == before and doc == copied
    for record in (doc, doc.settings, it, it.usage, it.evaluation, verdict, verdict.usage):
        assert list(record.__dict__) == list(type(record).model_fields), type(record).__name__
    assert verdict.score == 7.0 and type(verdict.score) is float  # (as pydantic made it)

    usage = Usage(input_tokens=3)
    share(usage)
    assert usage == Usage(input_tokens=3) and usage.model_fields_set == {"input_tokens"}

    # a record missing a field (`model_construct`) keeps its dictionary as it is
    partial = Evaluation.model_construct(feedback="f")  # type: ignore[call-arg]  # (what it is about)
    seal((partial,))
    assert "score" not in partial.__dict__ and partial.feedback == "f"
