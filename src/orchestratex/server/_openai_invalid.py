"""Why a `/v1/chat/completions` body was refused, in the client's words: where the value goes wrong (never a form
pydantic tried, such as `messages.0.content.str`) and what was expected (never the server's own class names)."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ._numbers import number_message

__all__ = ["explain", "first_error"]

_EITHER = {"str": "a string", "list[ContentPart]": "an array of content parts", "list[str]": "an array of strings"}
"""The forms of the fields that take text or an array (`content`, `stop`), as pydantic tags them in an error's `loc`."""


def first_error(exc: ValidationError) -> ErrorDetails:
    """The first error, with the form pydantic tried left out of its `loc` for a field taking text or an array:
    the error inside the array when the value is one (`messages.0.content.0.type`, `stop.1`), else one saying
    which forms the field takes (pydantic's first would blame the text form whatever was given)."""
    errors = exc.errors()
    err = errors[0]
    loc = err["loc"]  # (the tag follows the field: a `metadata` key named "str" is no form)
    at = next((i for i, p in enumerate(loc) if p in _EITHER and i > 0 and loc[i - 1] in ("content", "stop")), None)
    if at is None:
        return err
    prefix = err["loc"][:at]
    tried = [e for e in errors if e["loc"][:at] == prefix and len(e["loc"]) > at and e["loc"][at] in _EITHER]
    inner = next((e for e in tried if len(e["loc"]) > at + 1), None)
    if inner is not None:
        return {**inner, "loc": (*prefix, *inner["loc"][at + 1 :])}
    forms = " or ".join(_EITHER[str(e["loc"][at])] for e in tried)
    return {**err, "loc": prefix, "type": "either", "msg": f"Input should be {forms}"}


_OBJECTS = {
    "ChatMessageIn": 'a message object, e.g. {"role": "user", "content": "..."}',
    "ContentPart": 'a content part object, e.g. {"type": "text", "text": "..."}',
    "StreamOptions": 'an object, e.g. {"include_usage": true}',
}
"""What each object of the request is, for an error that would name the class that reads it."""


def explain(err: ErrorDetails) -> str:
    """An error's message, saying which object is expected where pydantic names its own class."""
    if err["type"] == "model_type":
        wanted = _OBJECTS.get(str((err.get("ctx") or {}).get("class_name")))
        if wanted is not None:
            return f"must be {wanted}, not {_json_kind(err.get('input'))}"
    return number_message(err)


def _json_kind(value: object) -> str:
    """What a JSON value is, in JSON's words."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "an array" if isinstance(value, list) else "null" if value is None else "an object"
