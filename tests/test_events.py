"""The events' documentation says what is true: each field it names exists, docs/events.md lists them all."""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from orchestratex import events
from orchestratex.records import StopReason

DOCS = Path(__file__).resolve().parents[1] / "docs" / "events.md"
EVENT_CLASSES: list[type[BaseModel]] = [
    events.OrchestrationStarted,
    events.ModelSelected,
    events.ResponseGenerated,
    events.EvaluationCompleted,
    events.OrchestrationCompleted,
    events.OrchestrationFailed,
]
COMMON = {"orchestration_id", "thread_id", "session_id", "seq", "timestamp", "type"}
# words in backquotes that are values, not fields: stop reasons, statuses, event types, settings
VALUES = {*typing.get_args(StopReason), "failed", *events.EVENT_TYPES}


def _quoted(text: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", text))


def _docstrings(name: str) -> list[str]:
    """The class docstring of `name` in events.py and its attribute docstrings."""
    tree = ast.parse(Path(events.__file__).read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)
    return [
        n.value.value
        for n in cls.body
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
    ]


def test_the_classes_are_every_event() -> None:
    assert [c.model_fields["type"].default for c in EVENT_CLASSES] == list(events.EVENT_TYPES)


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_a_docstring_names_only_fields_the_event_has(cls: type[BaseModel]) -> None:
    """(`orchestration_started` once spoke of a `resumed` field it never had.)"""
    texts = _docstrings(cls.__name__)
    assert len(texts) > 1  # the class's docstring and its fields'
    named = {word for text in texts for word in _quoted(text) if re.fullmatch(r"[a-z_]+", word)}
    assert sorted(named - set(cls.model_fields) - VALUES) == []


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_the_docs_table_lists_each_field(cls: type[BaseModel]) -> None:
    kind = cls.model_fields["type"].default
    row = next(line for line in DOCS.read_text().splitlines() if line.startswith(f"| `{kind}` (`{cls.__name__}`) |"))
    listed = _quoted(row.split(" | ")[-1])
    assert listed == set(cls.model_fields) - COMMON
