"""Finished records share one "every field is set" marker per class instead of holding a set each.

Pydantic keeps, per instance, the set of the fields given explicitly (`model_fields_set`). For a
record with five or more such fields that set takes 728 bytes, more than the record's own `__dict__`:
about 20 KB of a finished three-iteration orchestration and its events, 40% of what a `RunResult`
holds. A record read back from a store has every field set (its serialised form holds them all), so
the records of a finished run are marked the same way, with one shared set per class. Pydantic only
ever adds field names to that set (assignment, `model_copy` copies it first), which leaves a set that
already holds them all unchanged: sharing it is safe (a frozen model's set never changes at all).
Messages, which may be the caller's own objects, are left as they are.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable

from pydantic import BaseModel

from ..providers import Message

__all__ = ["seal"]

_ALL_SET: dict[type[BaseModel], set[str] | None] = {}
"""Per record class: the set of all its field names, shared by its sealed instances (None: left as it is)."""
_NESTED: dict[type[BaseModel], tuple[str, ...]] = {}
"""Per record class: the fields that may hold other (mutable) records, alone or in a list."""


def seal(records: Iterable[BaseModel]) -> None:
    """Mark every field of `records`, and of the mutable records they hold, as set (see the module docstring)."""
    for record in records:
        _seal(record)


def _seal(record: BaseModel) -> None:
    cls = type(record)
    if cls not in _ALL_SET:
        # an extra field's name would join the set on assignment: not shareable
        shareable = cls.model_config.get("extra") != "allow"
        _ALL_SET[cls] = set(cls.model_fields) if shareable else None
        _NESTED[cls] = tuple(name for name, info in cls.model_fields.items() if _may_hold_records(info.annotation))
    shared = _ALL_SET[cls]
    if shared is None:
        return
    own = record.__pydantic_fields_set__
    if own is not shared and own <= shared:
        object.__setattr__(record, "__pydantic_fields_set__", shared)
    fields = record.__dict__
    for name in _NESTED[cls]:
        value = fields.get(name)
        if isinstance(value, BaseModel):
            _seal(value)
        elif type(value) is list:
            for item in value:
                if isinstance(item, BaseModel):
                    _seal(item)


def _may_hold_records(annotation: object) -> bool:
    """Whether a field of type `annotation` may hold a record to seal (directly, optionally, in a list): any model
    but a message (the caller's input)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return not issubclass(annotation, Message)
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType, typing.Annotated):
        return any(_may_hold_records(arg) for arg in typing.get_args(annotation))
    return False
