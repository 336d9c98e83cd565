"""OpenAI's error object, for the answers of the server-wide layers (body size, unknown URLs) to an OpenAI client.

Those layers answer in the API's shape (`{"detail", "status_code"}`), which the openai SDK does not read: its
exception said only "Error code: 413". Under `/v1` (and for a path of OpenAI's API sent without it) they add
OpenAI's `error` object beside it, whose `message` the SDK shows.
"""

from __future__ import annotations

from typing import Any

__all__ = ["openai_error_object", "under_v1"]


def openai_error_object(message: str, code: str) -> dict[str, Any]:
    """The `error` of OpenAI's shape (`{"message", "type", "param", "code"}`) of a refused request."""
    return {"message": message, "type": "invalid_request_error", "param": None, "code": code}


def under_v1(path: str) -> bool:
    """Whether `path` (below the app's root path) is one of the OpenAI-compatible API's."""
    return path == "/v1" or path.startswith("/v1/")
