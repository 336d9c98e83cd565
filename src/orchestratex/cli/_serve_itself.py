"""A provider pointed at the server being started: its models would be asked of the server itself.

The docs tell the server's clients to set `OPENAI_BASE_URL` (and `OPENAI_API_KEY`) to the server's `/v1`; a shell
with those set that also starts `orchestratex serve` made its `openai` provider send every model call to the server
itself, each call starting another orchestration that called it again (one request made some 140 orchestrations in
37 s, and ended in a 429 quoting them nested). Told by the base URL: a loopback or bound address, and the server's port.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from .._shown import shown_url

__all__ = ["calls_itself"]

_LOCAL = frozenset({"localhost", "0.0.0.0", "::", "::1"})
"""This machine's loopback names, and the wildcard addresses (a server bound to one is reached on the loopback too)."""


def _local(host: str) -> bool:
    return host in _LOCAL or host.startswith("127.")


def calls_itself(orchestrator: Any, hosts: Collection[str], port: int) -> str | None:
    """Why the server about to listen on `port` (at `hosts`, the addresses bound) would call itself: a provider of
    a model of its catalog whose base URL is that address; None when none is."""
    used = {model.provider for model in orchestrator.catalog}
    for name, provider in orchestrator.providers.items():
        base_url = getattr(provider, "base_url", None)
        if name not in used or not isinstance(base_url, str):
            continue
        parts = urlsplit(base_url)
        try:
            url_port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:  # (a port out of range: no server at all, said by the provider's own calls)
            continue
        host = (parts.hostname or "").lower()
        if url_port != port or not (host in hosts or (_local(host) and any(map(_local, hosts)))):
            continue
        env = getattr(provider, "base_url_env", None)
        written = os.environ.get(env, "").strip() if isinstance(env, str) else ""  # (the SDK's ends with a slash)
        if written:
            what = f"{env}={shown_url(written)}"
            fix = f"unset {env} where the server runs (it is for the server's clients), or set it to the models' server"
        else:
            what = f"the {name} provider's base_url {shown_url(base_url)}"
            fix = f"give the {name} provider the URL of the server of its models"
        return (
            f"{what} is this server's own address (port {port}): its {name} models would be asked of this server,"
            f" each call starting another orchestration that calls it again; {fix}"
        )
    return None
