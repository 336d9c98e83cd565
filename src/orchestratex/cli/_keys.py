"""`orchestratex keys create USER_ID [--admin] [--label TEXT]`: a new API key, printed once."""

from __future__ import annotations

import argparse
import asyncio
import sys

from ..exceptions import UserError
from ..stores import default_store_url, open_store

__all__ = ["keys_command"]


async def _create(url: str, user_id: str, admin: bool, label: str | None) -> str:
    try:
        from ..server import issue_api_key
    except ImportError:
        raise UserError("API keys are for the server, which needs: pip install 'orchestratex[server]'") from None
    store = await open_store(url)
    try:
        return await issue_api_key(store, user_id, admin=admin, label=label)
    finally:
        await store.close()


def keys_command(args: argparse.Namespace) -> int:
    if args.keys_command != "create":
        raise UserError(f"unknown keys command {args.keys_command!r}: use `orchestratex keys create USER_ID`")
    url = args.store or default_store_url()
    if url.startswith("memory:"):
        raise UserError("a key in a memory:// store is lost when this command ends: use the server's store URL")
    key = asyncio.run(_create(url, args.user_id, args.admin, args.label))
    print(key)
    kind = "admin key" if args.admin else f"key for user {args.user_id.strip()!r}"
    print(f"orchestratex: new {kind} (store {url}); it is shown only once, keep it safe", file=sys.stderr)
    return 0
