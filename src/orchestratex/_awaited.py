"""Parts of one's own that the library awaits (a router, an evaluator): a plain `def` in place of an `async def` is
refused where the part is given, not met by every run."""

from __future__ import annotations

import inspect

from .exceptions import UserError

__all__ = ["check_async"]


def check_async(part: object, method: str, arguments: str) -> None:
    """`UserError` when `part` (a router, an evaluator of one's own) defines `method` as a plain `def`: the run awaits
    it, and failed with "TypeError: object RoutingDecision can't be used in 'await' expression", stored `failed`. (A
    decorated method, `functools.wraps`'s `__wrapped__`, is taken as it is.)"""
    if part is None:
        return
    found = getattr(type(part), method, None)
    if inspect.isfunction(found) and not inspect.iscoroutinefunction(found) and not hasattr(found, "__wrapped__"):
        name = type(part).__name__
        raise UserError(
            f"{name}.{method} must be a coroutine function, as it is awaited: write "
            f"`async def {method}(self, {arguments})`"
        )
