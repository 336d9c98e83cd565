"""Finished records share one "every field is set" marker per class instead of holding a set each.

Pydantic keeps, per instance, the set of the fields given explicitly (`model_fields_set`). For a
record with five or more such fields that set takes 728 bytes, more than the record's own `__dict__`:
about 20 KB of a finished three-iteration orchestration and its events, 40% of what a `RunResult`
holds. A record read back from a store has every field set (its serialised form holds them all), so
the records of a finished run are marked the same way, with one shared set per class. Pydantic only
ever adds field names to that set (assignment, `model_copy` copies it first), which leaves a set that
already holds them all unchanged: sharing it is safe (a frozen model's set never changes at all).
Messages, which may be the caller's own objects, are left as they are.

The requests, generations and usages of a run's calls are not records, and their set of fields given is
kept exactly: `share` swaps it for an equal shared set only where that can never change what they say —
when every field is given (pydantic adds nothing to a full set), or when the model is frozen (its set is
never added to). A run in flight holds about a dozen of them: 2.5 KB of sets each run, a shared set per
class instead.

The records and events a run makes from values already valid (its own, or those of validated models) are
`made` sealed: given every field, as pydantic would build them, without validating the values again.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from .providers import Message

__all__ = ["made", "prepare", "seal", "share"]

M = TypeVar("M", bound=BaseModel)

_ALL_SET: dict[type[BaseModel], set[str] | None] = {}
"""Per record class: the set of all its field names, shared by its sealed instances (None: left as it is)."""
_FROZEN: dict[tuple[type[BaseModel], frozenset[str]], set[str]] = {}
"""Per frozen class and set of fields given: the one set its instances share (see `share`)."""
_KEYS: dict[type[BaseModel], dict[str, Any] | None] = {}
"""Per record class: a dictionary of its fields sharing its keys with its instances' (see `_key_sharing`), which a
record sealed for the first time gets a copy of (None: not shareable)."""
_NESTED: dict[type[BaseModel], tuple[str, ...]] = {}
"""Per record class: the fields that may hold other (mutable) records, alone or in a list."""
_MADE: dict[type[BaseModel], tuple[dict[str, Any], tuple[tuple[str, Callable[[], Any]], ...], frozenset[str]]] = {}
"""Per class `made` builds: its fields with their plain defaults (in order), those with a default factory, and the
required ones."""
_new = object.__new__
_setattr = object.__setattr__
_IMMUTABLE = (type(None), bool, int, float, str, tuple)
_MAX_SHARED_KEYS = 30
"""The most keys CPython's instance dictionaries of one class share (`SHARED_KEYS_MAX_SIZE`)."""


def made(cls: type[M], /, **values: Any) -> M:
    """A `cls` holding `values` (already valid: not validated again) and the defaults of the fields not given, every
    field set, as `seal` leaves it: what `cls(**values)` then `seal` give for values of the fields' types, at about
    half the cost. A misspelt or missing field is a `TypeError`, as a `ValidationError` would be."""
    spec = _MADE.get(cls) or _made_class(cls)
    template, factories, required = spec
    fields = template | values  # (in the fields' order, as pydantic's `__dict__`; sharing the class's keys)
    if len(fields) != len(template) or not values.keys() >= required:
        raise TypeError(
            f"{cls.__name__} has no field {sorted(values.keys() - template.keys())} or misses some of"
            f" {sorted(required - values.keys())}"
        )
    for name, factory in factories:
        if name not in values:
            fields[name] = factory()
    record = _new(cls)
    _setattr(record, "__dict__", fields)
    _setattr(record, "__pydantic_fields_set__", _ALL_SET[cls])
    _setattr(record, "__pydantic_extra__", None)
    _setattr(record, "__pydantic_private__", None)
    return record


def _made_class(
    cls: type[BaseModel],
) -> tuple[dict[str, Any], tuple[tuple[str, Callable[[], Any]], ...], frozenset[str]]:
    if cls not in _ALL_SET:
        _seal_class(cls)
    if _ALL_SET[cls] is None or cls.__private_attributes__:
        raise TypeError(f"{cls.__name__} allows extra fields or has private attributes: build it with pydantic")
    template: dict[str, Any] = {}
    factories: list[tuple[str, Callable[[], Any]]] = []
    for name, info in cls.model_fields.items():
        template[name] = info.default
        factory: Callable[[], Any] | None = info.default_factory  # type: ignore[assignment]  # (none takes the data)
        if factory is not None:
            factories.append((name, partial(_sealed, factory) if name in _NESTED[cls] else factory))
        elif info.default is not PydanticUndefined and type(info.default) not in _IMMUTABLE:
            raise TypeError(f"{cls.__name__}.{name}'s default is mutable (pydantic copies it): build it with pydantic")
    required = frozenset(name for name, info in cls.model_fields.items() if info.is_required())
    keys = _KEYS[cls]
    spec = _MADE[cls] = (template if keys is None else keys | template, tuple(factories), required)
    return spec


def _key_sharing(cls: type[BaseModel], template: dict[str, Any]) -> dict[str, Any] | None:
    """`template` as a dictionary that shares its keys with the instance dictionaries of `cls` (CPython's split
    table): a copy of it (`template | values`: a copy, then its values replaced) shares them too, and holds only its
    values, 8 bytes each, instead of a table of its own, 24 bytes an entry and an index. A 13-field event's
    dictionary takes 0.2 KB instead of 0.5 KB; the copy is as fast as a merge into a new dictionary. The keys are
    those of the class's attributes, set on a first instance in the fields' order: CPython shares at most 30 keys per
    class, fewer for each instance made before (a plain dictionary then, as large as any), so the run's record classes
    are `prepare`d as the orchestrator is imported, before any instance is made.

    The records `made` builds are such copies; a record pydantic built (a provider's usage, a judge's verdict, the
    document) gets one the first time it is sealed, its values unchanged, in the same order."""
    probe = _new(cls)
    for name, default in template.items():
        _setattr(probe, name, default)
    shared: dict[str, Any] = probe.__dict__
    for _ in range(_MAX_SHARED_KEYS):  # each instance made lowers the room kept for more keys (down to one more), and
        _new(cls)  # a copy has a value slot for each key and each key there is room for
    return shared if list(shared) == list(template) else None


def _sealed(factory: Callable[[], Any]) -> Any:
    """What `factory` makes (a record, or a list of records), sealed."""
    value = factory()
    seal(value if type(value) is list else (value,))
    return value


def seal(records: Iterable[BaseModel]) -> None:
    """Mark every field of `records`, and of the mutable records they hold, as set (see the module docstring)."""
    for record in records:
        _seal(record)


def _seal(record: BaseModel) -> None:
    cls = type(record)
    if cls not in _ALL_SET:
        _seal_class(cls)
    shared = _ALL_SET[cls]
    if shared is None:
        return
    own = record.__pydantic_fields_set__
    fields = record.__dict__
    if own is not shared and own <= shared:  # (sealed for the first time: made by pydantic, or given partly)
        object.__setattr__(record, "__pydantic_fields_set__", shared)
        if (keys := _KEYS[cls]) is not None and (compact := keys | fields) == fields:  # (the same fields, in order)
            _setattr(record, "__dict__", compact)  # a dictionary sharing its class's keys (see `_key_sharing`)
            fields = compact
    for name in _NESTED[cls]:
        value = fields.get(name)
        if isinstance(value, BaseModel):
            _seal(value)
        elif type(value) is list:
            for item in value:
                if isinstance(item, BaseModel):
                    _seal(item)


def share(*models: BaseModel) -> None:
    """Let `models` (not their fields) share their set of fields given with equal ones, where that cannot change
    it: every field given, or a frozen model (see the module docstring). Their `model_fields_set` is unchanged; their
    dictionaries share their class's keys from then on (see `_key_sharing`), their values unchanged."""
    for model in models:
        cls = type(model)
        own = model.__pydantic_fields_set__
        if cls not in _ALL_SET:
            _seal_class(cls)
        full = _ALL_SET[cls]
        if own is full:
            continue
        if full is not None and len(own) == len(full) and own <= full:
            object.__setattr__(model, "__pydantic_fields_set__", full)
        elif cls.model_config.get("frozen"):  # (its set is never added to: one per distinct set)
            object.__setattr__(model, "__pydantic_fields_set__", _FROZEN.setdefault((cls, frozenset(own)), own))
        else:
            continue
        fields = model.__dict__  # shared for the first time: a dictionary sharing its class's keys (see `_seal`)
        if (keys := _KEYS[cls]) is not None and (compact := keys | fields) == fields:
            _setattr(model, "__dict__", compact)


def prepare(*classes: type[BaseModel]) -> None:
    """Make `classes` ready for `made` and `seal` now (their instances' dictionaries share keys from the first one
    made: see `_key_sharing`)."""
    for cls in classes:
        if cls not in _ALL_SET:
            _seal_class(cls)


def _seal_class(cls: type[BaseModel]) -> None:
    # an extra field's name would join the set on assignment: not shareable
    shareable = cls.model_config.get("extra") != "allow"
    _ALL_SET[cls] = set(cls.model_fields) if shareable else None
    _KEYS[cls] = _key_sharing(cls, dict.fromkeys(cls.model_fields)) if shareable else None
    _NESTED[cls] = tuple(name for name, info in cls.model_fields.items() if _may_hold_records(info.annotation))


def _may_hold_records(annotation: object) -> bool:
    """Whether a field of type `annotation` may hold a record to seal (directly, optionally, in a list): any model
    but a message (the caller's input)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return not issubclass(annotation, Message)
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType, typing.Annotated):
        return any(_may_hold_records(arg) for arg in typing.get_args(annotation))
    return False
