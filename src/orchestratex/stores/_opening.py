"""Opening a store, whoever wrote it: a failure outside the library's tree is a `StoreUnavailable`."""

from __future__ import annotations

from ..exceptions import OrchestrateXError, StoreUnavailable
from ._base import Store

__all__ = ["open_checked"]


async def open_checked(store: Store) -> None:
    """`store.open()`. A store of one's own that fails with an error outside the library's tree (its driver's
    `ConnectionRefusedError`, say) is a `StoreUnavailable` naming the store and the cause, as the built-in stores
    say it, so that `except OrchestrateXError` (the CLI, the server, an application) handles it: it was a traceback."""
    try:
        await store.open()
    except OrchestrateXError:
        raise
    except Exception as exc:
        raise StoreUnavailable(f"{type(store).__name__} could not be opened: {type(exc).__name__}: {exc}") from exc
