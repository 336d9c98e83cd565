"""The SDK client for an Azure OpenAI resource reached by its URL: the key goes in the `api-key` header.

Azure OpenAI's classic deployments API (`https://NAME.openai.azure.com/openai/deployments/DEPLOYMENT/chat/completions
?api-version=...`) takes an API key only in the `api-key` header: `Authorization: Bearer <key>`, as `openai.AsyncOpenAI`
sends it, is read as a Microsoft Entra ID token and refused 401. Its v1 API (`…/openai/v1/`) takes `api-key` too, as
`openai.AsyncAzureOpenAI` sends it.

Azure serves the Responses API at the resource's `/openai/responses?api-version=...` (and its v1 API's
`/openai/v1/responses`), never under a deployment: the deployment is named by the body's `model`. A Responses call
through a deployments URL goes there, as `openai.AsyncAzureOpenAI(azure_deployment=...)` sends it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import httpx2
from openai._models import FinalRequestOptions

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

    def _deployment(self) -> tuple[bytes, str] | None:
        """The resource's `…/openai` path and the deployment's name, when the base URL is a deployment's."""
        found = _DEPLOYMENT.fullmatch(self.base_url.raw_path)
        return None if found is None else (found[1], unquote(found[2].decode()))

    def _build_request(self, options: FinalRequestOptions, *, retries_taken: int = 0) -> httpx2.Request:
        deployment = self._deployment()
        if deployment is not None and options.url.lstrip("/") == "responses" and isinstance(options.json_data, dict):
            # (Azure reads the deployment from `model` there: the catalog's model id names no deployment)
            options = options.model_copy(update={"json_data": {**options.json_data, "model": deployment[1]}})
        return super()._build_request(options, retries_taken=retries_taken)

    def _prepare_url(self, url: str) -> httpx2.URL:
        deployment = self._deployment()
        if deployment is not None and url.lstrip("/") == "responses":
            return self.base_url.copy_with(raw_path=deployment[0] + b"/responses")
        return super()._prepare_url(url)


_DEPLOYMENT = re.compile(rb"(.*/openai)/deployments/([^/]+)/?")
"""A deployments base URL's path: the resource's `…/openai` and the deployment's (URL-encoded) name."""
