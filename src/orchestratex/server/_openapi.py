"""The OpenAPI schema says which fields every answer carries.

pydantic lists a field with a default (`_id`, `created_at`, `updated_at`, `status`, `total_cost`, …) as optional,
also in the schema of an answer, although the server serialises every document whole: a client generated from
`/openapi.json` (openapi-typescript, openapi-python-client) then typed a session's `_id` as possibly absent, which
the spec's common response format says every document has. The schemas only answers use list all their fields as
required; those of request bodies keep their optional fields, and so does the error body, whose `errors` comes
with a 422 only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["require_answered_fields"]

_REF = "#/components/schemas/"
_SOMETIMES_ABSENT = frozenset({"ErrorBody"})
"""Answered schemas with a field not every answer has (`errors`, for a 422 only)."""


def _refs(node: Any) -> Iterator[str]:
    """The names of the component schemas `node` refers to."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            yield ref.removeprefix(_REF)
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _reachable(roots: list[Any], schemas: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    todo = [name for root in roots for name in _refs(root)]
    while todo:
        name = todo.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        todo.extend(_refs(schemas[name]))
    return seen


def require_answered_fields(schema: dict[str, Any]) -> None:
    """Mark every property of the component schemas that only answers use as required (in place)."""
    schemas: dict[str, Any] = schema.get("components", {}).get("schemas", {})
    operations = [op for item in schema.get("paths", {}).values() for op in item.values() if isinstance(op, dict)]
    requests = _reachable([op.get("requestBody") for op in operations], schemas)
    answers = _reachable([op.get("responses") for op in operations], schemas)
    for name in answers - requests - _SOMETIMES_ABSENT:
        properties = schemas[name].get("properties")
        if properties:
            schemas[name]["required"] = list(properties)
