"""The numbers and flags of request bodies (and presets): JSON numbers and JSON booleans only.

Pydantic's lax mode reads `true` as 1, `false` as 0 and `"0.5"` as 0.5, so `"cost_limit": true` was a $1
budget and `"max_iterations": true` one attempt. Every numeric field of the request models of `/api` and
`/v1` is an `Integer` or a `Number` instead, which take a JSON number only (for `Integer`, one without a
fraction; an integer is a valid `Number`), as the library's run options do (`Orchestrator.run` refuses
booleans and text for them). Likewise lax mode reads `"true"`, `"yes"`, `"0"` and `1` as booleans, so
`"stream": "false"` streamed; every boolean field of `/v1` is a `Flag`, which takes `true` or `false` only,
as OpenAI's API does. `number_message` says what to write instead, for both error shapes. A `Number` given as `-0.0`
(`json.dumps(-0.0)`, a budget computed as a negated zero) is read as `0.0`: it was accepted as the zero it equals and
shown back as `"cost_limit": -0.0`.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

from pydantic import AfterValidator, Strict
from pydantic_core import ErrorDetails

__all__ = ["Flag", "Integer", "Number", "number_message"]

Integer = Annotated[int, Strict()]
"""A whole JSON number: not a boolean, not text, not `3.0`."""


def _no_negative_zero(value: float) -> float:
    return value + 0.0  # (`-0.0 + 0.0` is `0.0`; any other number is itself)


Number = Annotated[float, Strict(), AfterValidator(_no_negative_zero)]
"""A JSON number (`10` or `10.5`): not a boolean, not text; `-0.0` is `0.0`."""

Flag = Annotated[bool, Strict()]
"""A JSON boolean (`true` or `false`): not text, not a number."""

_SHOWN = 40
"""Characters of a refused string shown back."""


def number_message(error: ErrorDetails) -> str:
    """The message of a validation error: for a number given as a boolean, as text or (for a whole number) with
    a fraction, or a boolean given as text or a number, what was given and what to write; else pydantic's own."""
    kind = error["type"]
    value = error.get("input")
    if kind == "bool_type":
        return _flag_message(value, error["msg"])
    if kind not in ("int_type", "float_type"):
        return error["msg"]
    wanted = "a whole number" if kind == "int_type" else "a number"
    if isinstance(value, bool):
        return f"must be {wanted}, not the boolean {json.dumps(value)}"
    if isinstance(value, str):
        return f"must be {wanted}, not the string {_shown(value)}: write the number without quotes"
    if isinstance(value, float) and kind == "int_type":
        if value.is_integer():  # (`100.0`, `1e3`: whole, but written as a decimal, which an integer field refuses)
            return f"must be an integer, written without a decimal point or exponent ({int(value)}), not {value!r}"
        return f"must be a whole number, not {value!r}"
    if isinstance(value, int) and kind == "float_type":
        return f"is too large a number (the largest is {sys.float_info.max:.3g})"
    return error["msg"]


def _flag_message(value: object, default: str) -> str:
    if isinstance(value, str):
        return f"must be true or false, not the string {_shown(value)}: write the boolean without quotes"
    if isinstance(value, int | float):
        return f"must be true or false, not the number {json.dumps(value)}"
    return default


def _shown(value: str) -> str:
    """`value` quoted as JSON, cut past `_SHOWN` characters. A lone surrogate (`"\\ud800"`: half of an escaped pair, an
    emoji cut in two by a UTF-16 client) is written as its JSON escape: as itself it cannot be encoded in UTF-8, and
    the answer failed with a 500."""
    text = json.dumps(value if len(value) <= _SHOWN else value[:_SHOWN] + "…", ensure_ascii=False)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
