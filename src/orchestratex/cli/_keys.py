"""`orchestratex keys create USER_ID [--admin] [--label TEXT]` (a new key, printed once), `keys list [--user U]
[--json]` and `keys revoke KEY_ID`. A key is never shown again after `create`, nor is its hash."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime

from .._ids import in_utc
from .._user_keys import user_keys
from ..exceptions import NotFound, UserError
from ..records import ApiKey
from ..stores import Store, open_store
from ._interrupt import EXIT_CODES
from ._output import Output, StdoutFailed, json_text, one_line, plain_table
from ._runs import an_id
from ._stores import lasting_store_url, patiently, shown_url, sqlite_file_absent, store_option

__all__ = ["keys_command"]


def _server_imported(key_id: str | None = None) -> None:
    """Import the server's key functions before the wait for the store is timed (`patiently`): importing the server
    (FastAPI, its models) takes seconds on a busy machine, and, counted as waiting, made `keys create` say "waiting for
    the store … (another process may hold its write lock)" of a store no other process used. `keys revoke` needs them
    only for a `key_id` that is the key itself (found by its hash)."""
    if key_id is not None and not key_id.startswith(KEY_PREFIX):
        return
    try:
        import orchestratex.server._auth  # noqa: F401
    except ImportError:
        raise UserError("API keys are for the server, which needs: pip install 'orchestratex[server]'") from None


async def _create(url: str, user_id: str, admin: bool, label: str | None) -> str:
    from ..server import issue_api_key

    store = await open_store(url)
    try:
        return await issue_api_key(store, user_id, admin=admin, label=label)
    finally:
        await store.close()


async def _list(url: str, user_id: str | None) -> list[ApiKey]:
    from ._progress import Progress

    progress = Progress("reading the store's API keys…")  # (a store slow to open: a MongoDB server far away)
    progress.start()
    try:
        store = await open_store(url)
        try:
            return await user_keys(store, user_id)
        except NotImplementedError:
            raise UserError(
                f"{type(store).__name__} cannot list API keys (it does not implement list_api_keys)"
            ) from None
        finally:
            await store.close()
    finally:
        progress.close()


KEY_PREFIX = "ox_"
"""How every key starts (as `orchestratex.server._auth.KEY_PREFIX`); an id is 24 hex digits."""


def _unwrapped(given: str) -> str:
    """`keys revoke`'s argument without what is found around a leaked key where it leaked: white space, the quotes an
    env file keeps (`KEY="ox_…"`), the `Authorization: Bearer ` header it was copied from. Such a key was
    looked up as an id: not revoked, and the whole secret repeated in the error, into a terminal's scrollback or a
    CI log."""
    text = given.strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    for header in ("authorization:", "x-api-key:"):  # (the whole header line copied)
        if text.lower().startswith(header) and KEY_PREFIX in text:
            text = text[len(header) :].strip()
    if text[:7].lower() == "bearer " and KEY_PREFIX in text:
        text = text[7:].strip()
    return text if text.startswith(KEY_PREFIX) else an_id(text)  # (an id in capitals: see `an_id`)


def _shown_key_id(given: str) -> str:
    """What an error may repeat of `keys revoke`'s argument: never a key (the secret), only its first characters."""
    at = given.find(KEY_PREFIX)
    return repr(given) if at < 0 else f"{given[: at + 6]!r}…"


async def _revoke(url: str, key_id: str, given: str | None = None) -> tuple[ApiKey, bool]:
    """The key revoked, and whether it already was (the store keeps its first `revoked_at` either way). `key_id` may
    be the key itself (a leaked one, whose id its holder may not know): it is looked up by its hash. `given` is the
    `--store` typed, which the command suggested by an error repeats."""
    store = await open_store(url)
    try:
        if key_id.startswith(KEY_PREFIX):
            key_id = await _id_of_key(store, key_id, url)
        try:
            before = next((k for k in await store.list_api_keys() if k.id == key_id), None)
        except NotImplementedError:  # (a store that cannot list keys: revoking says nothing of before)
            before = None
        return await store.revoke_api_key(key_id), before is not None and before.revoked_at is not None
    except NotFound:
        raise UserError(
            f"no API key {_shown_key_id(key_id)} in {shown_url(url)} (list them with `orchestratex keys list"
            f"{store_option(given)}`)"
        ) from None
    except NotImplementedError:
        raise UserError(
            f"{type(store).__name__} cannot revoke API keys (it does not implement revoke_api_key)"
        ) from None
    finally:
        await store.close()


async def _id_of_key(store: Store, key: str, url: str) -> str:
    from ..server._auth import hash_key

    found = await store.get_api_key(hash_key(key))
    if found is None:  # (the key is a secret: not repeated in the message)
        raise UserError(f"no API key in {shown_url(url)} is the key given ({key[:6]}…); check the key, or give its id")
    return found.id


async def _revoke_unread(url: str, key: str) -> ApiKey:
    """Revoke the key just created, whose text could not be written: left active, it was a credential no one held
    that `keys list` showed as any other."""
    store = await open_store(url)
    try:
        return await store.revoke_api_key(await _id_of_key(store, key, url))
    finally:
        await store.close()


def _when(moment: datetime | None) -> str:
    return in_utc(moment).strftime("%Y-%m-%d %H:%M") if moment is not None else "-"


def _public(key: ApiKey) -> dict[str, object]:
    """What may be shown of a key: everything but its hash."""
    return key.model_dump(mode="json", by_alias=True, exclude={"key_hash", "updated_at"})


def _table(keys: list[ApiKey]) -> str:
    """One line per key (a label's line breaks become spaces, as `runs list` does with prompts)."""
    # (times in UTC, as `runs list` says in its header: "CREATED 2026-12-06 06:22" read as local time, hours off)
    headers = ("ID", "USER", "ADMIN", "CREATED (UTC)", "LAST USED (UTC)", "REVOKED (UTC)", "LABEL")
    rows = [
        (
            k.id,
            k.user_id,
            "yes" if k.admin else "no",
            _when(k.created_at),
            _when(k.last_used_at),
            _when(k.revoked_at),
            one_line(k.label or ""),
        )
        for k in keys
    ]
    return plain_table(headers, rows)


def keys_command(args: argparse.Namespace) -> int:
    url = lasting_store_url(
        args.store, "a memory:// store is lost when this command ends", "give the store URL your server uses"
    )
    absent = args.keys_command != "create" and sqlite_file_absent(url)  # (reading it would create the file)
    if args.keys_command == "list":
        keys = [] if absent else asyncio.run(_list(url, args.user_id))
        if args.json:
            Output().verbatim(json_text([_public(k) for k in keys]))
            if absent:  # (`[]` alone hid a mistyped path: said on stderr, as without `--json`)
                print(f"orchestratex: no API keys: the store {shown_url(url)} does not exist (yet)", file=sys.stderr)
        elif keys:
            Output().verbatim(_table(keys))
        elif absent:
            print(f"orchestratex: no API keys: the store {shown_url(url)} does not exist (yet)", file=sys.stderr)
        elif args.user_id is not None:
            print(f"orchestratex: no API keys of user {args.user_id!r} in {shown_url(url)}", file=sys.stderr)
        else:
            print(f"orchestratex: no API keys in {shown_url(url)}", file=sys.stderr)
        return 0
    if args.keys_command == "revoke":
        if absent:
            raise UserError(f"no API key {_shown_key_id(args.key_id)}: the store {shown_url(url)} does not exist (yet)")
        key_id = _unwrapped(args.key_id)
        _server_imported(key_id)
        revoked, already = patiently(url, _revoke(url, key_id, args.store))
        if already:
            Output().verbatim(
                f"orchestratex: key {revoked.id} of user {revoked.user_id!r} was already revoked "
                f"({_when(revoked.revoked_at)} UTC); nothing changed"
            )
        else:
            Output().verbatim(
                f"orchestratex: revoked key {revoked.id} of user {revoked.user_id!r}; servers on {shown_url(url)}"
                " refuse it at its next request and end its open WebSockets and /v1 calls within"
                " ORCHESTRATEX_WS_AUTH_CHECK_S (5 s); one that caches keys (ORCHESTRATEX_AUTH_CACHE_S above 0)"
                " accepts it for up to that long"
            )
        return 0
    if args.keys_command != "create":
        raise UserError(f"unknown keys command {args.keys_command!r}: use `orchestratex keys create|list|revoke`")
    _server_imported()
    key = patiently(url, _create(url, args.user_id, args.admin, args.label))
    # (the user of an admin key too: "new admin key" left out whose key it is, which `keys list` shows)
    kind = f"{'admin key' if args.admin else 'key'} for user {args.user_id.strip()!r}"
    try:
        Output().verbatim(key)
    except StdoutFailed as exc:  # (a full disk, a reader gone): a working key no one could read
        revoked = patiently(url, _revoke_unread(url, key))
        print(
            f"orchestratex: error: {exc.message}: the new {kind} {revoked.id} was revoked, since no one could read "
            "it; run the command again with an output that can be written",
            file=sys.stderr,
        )
        return EXIT_CODES["SIGPIPE"] if exc.reader_gone else 1
    print(f"orchestratex: new {kind} (store {shown_url(url)}); it is shown only once, keep it safe", file=sys.stderr)
    return 0
