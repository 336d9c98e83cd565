"""The SDK client for an Azure OpenAI resource reached by its URL: the key goes in the `api-key` header.

Azure OpenAI's classic deployments API (`https://NAME.openai.azure.com/openai/deployments/DEPLOYMENT/chat/completions
?api-version=...`) takes an API key only in the `api-key` header: `Authorization: Bearer <key>`, as `openai.AsyncOpenAI`
sends it, is read as a Microsoft Entra ID token and refused 401. Its v1 API (`…/openai/v1/`) takes `api-key` too, as
`openai.AsyncAzureOpenAI` sends it.
"""

from __future__ import annotations

from typing import Any

from ._sse import AsyncOpenAIClient

__all__ = ["AzureKeyClient"]


def _is_token(key: str) -> bool:
    """Whether `key` is a Microsoft Entra ID access token (a JWT: `eyJ…`, three dot-separated parts), which Azure takes
    as `Authorization: Bearer`, not a resource's API key."""
    return key.startswith("eyJ") and key.count(".") == 2


class AzureKeyClient(AsyncOpenAIClient):
    """`AsyncOpenAIClient` sending its key as `api-key: <key>`, not `Authorization: Bearer <key>` (an Entra ID token
    passed as the key still goes as a bearer token)."""

    def _auth_headers(self, security: Any) -> dict[str, str]:
        key = self.api_key
        if not key:
            return {}
        return {"Authorization": f"Bearer {key}"} if _is_token(key) else {"api-key": key}

    def _validate_headers(self, headers: Any, custom_headers: Any) -> None:
        return None  # (the key is in `api-key`, which the SDK's check for `Authorization` does not look for)
