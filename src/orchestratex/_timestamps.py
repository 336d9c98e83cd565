"""`Timestamp`: a datetime field written in JSON always with its six digits of microseconds.

pydantic writes a datetime as `isoformat()` does, which leaves out the fraction when it is zero: one time in a
million, and one in a thousand from MongoDB (which keeps milliseconds), a document's `created_at` or an event's
`timestamp` came out `2026-01-01T09:52:58Z` where every other one is `2026-01-01T09:52:58.278000Z`, as the API spec
writes them, and a client parsing that one form (`strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")`) failed on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

__all__ = ["Timestamp", "timestamp_text"]


def timestamp_text(moment: datetime) -> str:
    """`moment` in ISO 8601 with microseconds, UTC written `Z` (as pydantic writes it); a naive one without an
    offset."""
    text = moment.isoformat(timespec="microseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


Timestamp = Annotated[
    datetime,
    PlainSerializer(timestamp_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A datetime as documents and events hold one: in JSON, always `YYYY-MM-DDTHH:MM:SS.ffffffZ`."""
